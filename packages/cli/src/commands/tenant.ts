import type { Command } from 'commander';
import { humanTime, newTenantToken, TENANT_DRAIN_PREFIX, tenantNameProblem, tenantPrefixProblem, tenantTokenHash, nowUnix } from '@logyard/bus';
import type { Store } from '@logyard/store';
import { configOf, withStore } from '../context.js';
import { publishAudit } from '../audit.js';
import { collect } from './drain.js';
import { usageError } from '../errors.js';
import { formatTable } from '../table.js';
import { unknownNamesError } from '../unknown-names.js';

/** `logyard tenant add|delete|list|rotate` (docs/tenants.md): tenants of the drains API. */
export function registerTenantCommands(program: Command): void {
  const tenant = program.command('tenant').description('tenants of the drains API: who may manage drains over HTTP for which key prefixes');

  tenant
    .command('add')
    .description('adds a tenant owning key prefixes; prints its token once (only its SHA-256 is stored)')
    .argument('<name>', 'tenant name: [A-Za-z0-9_-]+')
    .requiredOption('--prefix <prefix>', 'a key prefix the tenant owns, whole segments (repeatable)', collect, [] as string[])
    .action(async (name: string, opts: { prefix: string[] }, cmd: Command) => {
      const config = configOf(cmd);
      checkName(name);
      for (const prefix of opts.prefix) {
        const problem = tenantPrefixProblem(prefix);
        if (problem) throw usageError(`--prefix: ${problem}`);
      }
      const token = newTenantToken();
      const prefixes = [...new Set(opts.prefix)];
      await withStore(config, async (store) => {
        if (await store.getTenant(name)) throw usageError(`tenant ${name} exists already (rotate gives it a new token; delete removes it)`);
        await store.putTenant({ name, prefixes, token_sha256: tenantTokenHash(token), created: nowUnix() });
      });
      await publishAudit(config, { action: 'tenant.add', name, desc: `tenant added: ${name} ${prefixes.join(' ')}` });
      process.stderr.write(`added tenant ${name} owning ${prefixes.join(', ')}; its token (shown only now):\n`);
      process.stdout.write(`${token}\n`);
    });

  tenant
    .command('rotate')
    .description('gives a tenant a new token (printed once); the old one stops working on every node within a second')
    .argument('<name>', 'tenant name')
    .action(async (name: string, _opts: unknown, cmd: Command) => {
      const config = configOf(cmd);
      checkName(name);
      const token = newTenantToken();
      await withStore(config, async (store) => {
        const existing = await store.getTenant(name);
        if (!existing || existing.problem) throw await unknownTenant(store, name, existing?.problem);
        await store.putTenant({ name, prefixes: existing.prefixes, token_sha256: tenantTokenHash(token), created: existing.created });
      });
      await publishAudit(config, { action: 'tenant.rotate', name, desc: `tenant token rotated: ${name}` });
      process.stderr.write(`new token of tenant ${name} (shown only now; the old one no longer works):\n`);
      process.stdout.write(`${token}\n`);
    });

  tenant
    .command('delete')
    .description('removes tenants: their tokens stop working and their drains are deleted on every node')
    .argument('<names...>', 'tenant names')
    .action(async (names: string[], _opts: unknown, cmd: Command) => {
      const config = configOf(cmd);
      for (const name of names) checkName(name);
      const { missing, left, drains } = await withStore(config, async (store) => {
        const unknown: string[] = [];
        const deletedDrains = new Map<string, string[]>();
        for (const name of names) {
          // The tenant first: its token stops working and its drains stop routing before they go.
          if (!(await store.deleteTenant(name))) unknown.push(name);
          const own = (await store.listDrains()).filter((d) => d.name.startsWith(`${TENANT_DRAIN_PREFIX}${name}.`));
          for (const drain of own) await store.deleteDrain(drain.name);
          deletedDrains.set(name, own.map((d) => d.name));
        }
        return { missing: unknown, left: unknown.length ? (await store.listTenants()).map((t) => t.name) : [], drains: deletedDrains };
      });
      for (const name of names) {
        if (missing.includes(name) && (drains.get(name) ?? []).length === 0) continue;
        const own = drains.get(name) ?? [];
        await publishAudit(config, { action: 'tenant.delete', name, desc: `tenant deleted: ${name}` });
        for (const drain of own) await publishAudit(config, { action: 'drain.delete', name: drain, desc: `drain deleted: ${drain}` });
        process.stdout.write(`deleted tenant ${name}${own.length ? ` and its drains ${own.join(', ')}` : ''}\n`);
      }
      if (missing.length) throw unknownNamesError('tenant', missing, left);
    });

  tenant
    .command('list')
    .description('NAME  PREFIXES  CREATED, one a line, sorted (never a token or its hash)')
    .option('--json', 'print JSON')
    .action(async (opts: { json?: boolean }, cmd: Command) => {
      const config = configOf(cmd);
      const tenants = await withStore(config, (store) => store.listTenants());
      const rows = tenants.map((t) => ({ name: t.name, prefixes: t.prefixes, created: t.created, ...(t.problem ? { problem: t.problem } : {}) }));
      if (opts.json) {
        process.stdout.write(JSON.stringify(rows, null, 2) + '\n');
        return;
      }
      const table = [['NAME', 'PREFIXES', 'CREATED']];
      for (const r of rows) table.push([r.name, r.problem ? `(cannot be used: ${r.problem})` : r.prefixes.join(','), r.created ? humanTime(r.created) : '-']);
      process.stdout.write(formatTable(table));
    });
}

function checkName(name: string): void {
  const problem = tenantNameProblem(name);
  if (problem) throw usageError(problem);
}

async function unknownTenant(store: Store, name: string, problem: string | undefined) {
  if (problem) return usageError(`tenant ${name} cannot be used: ${problem} (delete it and add it again)`);
  return unknownNamesError('tenant', [name], (await store.listTenants()).map((t) => t.name));
}
