import type { Command } from 'commander';
import { isBuiltinDrainName, newDrainToken, tenantOfDrain } from '@logyard/bus';
import { compareNames, drainNameProblem, drainStatusRows } from '@logyard/store';
import { DrainUriError, fileDrainPathProblem, mergeDrainArgs, parseDrainUri, redactUri, UNKNOWN_FORMAT, type DrainSpec } from '@logyard/drains';
import { namedFormats } from './format.js';
import { publishAudit } from '../audit.js';
import { configOf, withStore } from '../context.js';
import { usageError } from '../errors.js';
import { formatTable } from '../table.js';
import { unknownNamesError } from '../unknown-names.js';

export function registerDrainCommands(program: Command): void {
  const drain = program.command('drain').description('add, delete, list drains and show their status');

  drain
    .command('add')
    .description('add or replace a drain; flags are merged into the URI query')
    .argument('<name>', 'drain name: [A-Za-z0-9_.-]+')
    .argument('<uri>', 'drain URI, e.g. tcp://host:port?filter=systail')
    .argument('[params...]', 'more URI params as key=value')
    .option('-f, --filter <prefix>', 'key prefix to send (repeatable)', collect, [] as string[])
    .option('--format <format>', 'json, raw, a named format or an inline {{template}}')
    .action(async (name: string, uri: string, params: string[], opts: { filter: string[]; format?: string }, cmd: Command) => {
      const config = configOf(cmd);
      checkStoredName(name);
      const extra: Record<string, string> = {};
      for (const p of params) {
        const eq = p.indexOf('=');
        if (eq <= 0) throw usageError(`drain param "${p}" must be key=value`);
        extra[p.slice(0, eq)] = p.slice(eq + 1);
      }
      const merged = mergeDrainArgs(uri, { filters: opts.filter, format: opts.format, params: extra });
      // Checked before the store is contacted; a format only the store knows is checked there.
      let unknownFormat = false;
      let spec: DrainSpec | undefined;
      try {
        spec = parseDrainUri(merged, { formats: config.formats, drainName: name });
      } catch (err) {
        if (!(err instanceof DrainUriError && err.message.includes(UNKNOWN_FORMAT))) throw err;
        unknownFormat = true;
      }
      await withStore(config, async (store) => {
        if (unknownFormat) spec = parseDrainUri(merged, { formats: await namedFormats(config, store), drainName: name });
        // A tenant's drain added by an admin gets (or keeps) its drain token as one added over the API does.
        const token = tenantOfDrain(name) === undefined ? undefined : ((await store.getDrain(name))?.token ?? newDrainToken());
        await store.putDrain(name, merged, token === undefined ? {} : { token });
      });
      await publishAudit(config, { action: 'drain.add', name, desc: `drain added: ${name} ${redactUri(merged)}` });
      process.stdout.write(`added drain ${name}: ${redactUri(merged)}\n`);
      // Each core checks its own file_drain_roots (nodes may differ), so this is no error here; but
      // a path this node's core will refuse is worth saying now rather than in drain status.
      const fileProblem = spec?.scheme === 'file' && spec.path ? await fileDrainPathProblem(spec.path, config.fileDrainRoots) : null;
      if (fileProblem) process.stderr.write(`logyard: warning: drain ${name}: ${fileProblem}; it goes FATAL on this node and on every node with the same file_drain_roots\n`);
    });

  drain
    .command('delete')
    .description('remove drains')
    .argument('<names...>', 'drain names')
    .action(async (names: string[], _opts: unknown, cmd: Command) => {
      const config = configOf(cmd);
      for (const name of names) {
        if (name in config.builtinDrains || isBuiltinDrainName(name)) {
          throw usageError(`drain ${name} is built in: it is defined by builtin_drains in the config, not in the store`);
        }
      }
      const { missing, left } = await withStore(config, async (store) => {
        const unknown: string[] = [];
        for (const name of names) if (!(await store.deleteDrain(name))) unknown.push(name);
        return { missing: unknown, left: unknown.length ? (await store.listDrains()).map((d) => d.name) : [] };
      });
      for (const name of names) {
        if (missing.includes(name)) continue;
        await publishAudit(config, { action: 'drain.delete', name, desc: `drain deleted: ${name}` });
        process.stdout.write(`deleted drain ${name}\n`);
      }
      if (missing.length) throw unknownNamesError('drain', missing, [...left, ...Object.keys(config.builtinDrains)]);
    });

  drain
    .command('list')
    .description('NAME  URI, one a line, sorted; an entry that cannot run says why')
    .option('--json', 'print JSON')
    .action(async (opts: { json?: boolean }, cmd: Command) => {
      const config = configOf(cmd);
      const stored = await withStore(config, (store) => store.listDrains());
      const rows: Array<{ name: string; uri: string; builtin: boolean; problem?: string }> = [
        ...Object.entries(config.builtinDrains).map(([name, uri]) => ({ name, uri: redactUri(uri), builtin: true })),
        ...stored.map((d) => ({ name: d.name, uri: redactUri(d.uri), builtin: false, ...(d.problem ? { problem: d.problem } : {}) })),
      ].sort((a, b) => compareNames(a.name, b.name));
      if (opts.json) {
        process.stdout.write(JSON.stringify(rows, null, 2) + '\n');
        return;
      }
      const note = (r: (typeof rows)[number]): string[] => (r.builtin ? ['(built in)'] : r.problem ? [`(cannot run: ${r.problem})`] : []);
      process.stdout.write(formatTable(rows.map((r) => [r.name, r.uri, ...note(r)])));
    });

  drain
    .command('status')
    .description('NAME  NODE  STATE  SENT  DROPPED  ERROR, one row per drain per node')
    .argument('[names...]', 'only these drains')
    .option('--json', 'print JSON')
    .option('--not-running', 'only rows whose state is not RUNNING')
    .action(async (names: string[], opts: { json?: boolean; notRunning?: boolean }, cmd: Command) => {
      const config = configOf(cmd);
      const { nodes, drains } = await withStore(config, async (store) => {
        // Status first: a drain deleted after it was read is then missing from the drains, and its
        // row left out, even when a node's document still holds it.
        const nodes = await store.listNodeStatus();
        return { nodes, drains: await store.listDrains() };
      });
      const stored = new Set(drains.map((d) => d.name));
      const statuses = drainStatusRows(nodes).filter((s) => s.builtin || stored.has(s.drain));
      const known = new Set([...stored, ...Object.keys(config.builtinDrains), ...statuses.map((s) => s.drain)]);
      const unknown = names.filter((n) => !known.has(n));
      if (unknown.length) throw unknownNamesError('drain', unknown, known);
      const rows = statuses
        .filter((s) => names.length === 0 || names.includes(s.drain))
        .filter((s) => !opts.notRunning || s.state !== 'RUNNING');
      if (opts.json) {
        process.stdout.write(JSON.stringify(rows, null, 2) + '\n');
        return;
      }
      const table = [['NAME', 'NODE', 'STATE', 'SENT', 'DROPPED', 'ERROR']];
      for (const s of rows) {
        const dropped = Object.values(s.dropped).reduce((a, b) => a + b, 0);
        table.push([s.drain, s.node_id, s.state, String(s.sent), String(dropped), s.error ?? '']);
      }
      process.stdout.write(formatTable(table));
    });
}

/** A repeatable option's values. */
export function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

function checkStoredName(name: string): void {
  const problem = drainNameProblem(name);
  if (problem) throw usageError(problem);
  if (isBuiltinDrainName(name)) throw usageError(`drain name ${name}: builtin.* drains are defined by builtin_drains in the config`);
}
