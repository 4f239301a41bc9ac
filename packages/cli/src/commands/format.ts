import type { Command } from 'commander';
import { nodeFormats, type LogyardConfig } from '@logyard/config';
import { BUILTIN_FORMATS, formatProblem } from '@logyard/drains';
import { compareNames, type Store } from '@logyard/store';
import { configOf, withStore } from '../context.js';
import { unknownNamesError } from '../unknown-names.js';
import { usageError } from '../errors.js';
import { publishAudit } from '../audit.js';
import { formatTable } from '../table.js';

/** Formats that are not templates and cannot be renamed. */
const RESERVED_FORMATS = ['json', 'raw'];

/** The named formats a drain on this node can use: the store's, with the config's winning (as in the core). */
export async function namedFormats(config: LogyardConfig, store: Store): Promise<Record<string, string>> {
  return nodeFormats(config, await store.listFormats());
}

export function registerFormatCommands(program: Command): void {
  const format = program.command('format').description('named formats kept in the store, usable as format=NAME by every drain');

  format
    .command('add')
    .description('adds or replaces a named format in the store; every core picks it up at once')
    .argument('<name>', 'format name: [A-Za-z0-9_.-]+')
    .argument('<template>', 'a template: {{field}}, {{a.b}}, {{key}}')
    .action(async (name: string, template: string, _opts: unknown, cmd: Command) => {
      const config = configOf(cmd);
      if (RESERVED_FORMATS.includes(name)) throw usageError(`format name "${name}" is reserved`);
      const problem = formatProblem(name, { [name]: template });
      if (problem) throw usageError(problem);
      await withStore(config, (store) => store.putFormat(name, template));
      await publishAudit(config, { action: 'format.add', name, desc: `format added: ${name} ${template}` });
      process.stdout.write(`added format ${name}: ${template}\n`);
      if (Object.hasOwn(config.formats, name)) {
        process.stderr.write(`logyard: note: the config's format ${name} wins over the store's on nodes with this config\n`);
      }
    });

  format
    .command('delete')
    .description('removes named formats from the store')
    .argument('<names...>', 'format names')
    .action(async (names: string[], _opts: unknown, cmd: Command) => {
      const config = configOf(cmd);
      const { missing, left } = await withStore(config, async (store) => {
        const unknown: string[] = [];
        for (const name of names) if (!(await store.deleteFormat(name))) unknown.push(name);
        return { missing: unknown, left: unknown.length ? Object.keys(await store.listFormats()) : [] };
      });
      for (const name of names) {
        if (missing.includes(name)) continue;
        await publishAudit(config, { action: 'format.delete', name, desc: `format deleted: ${name}` });
        process.stdout.write(`deleted format ${name}\n`);
      }
      if (missing.length) throw unknownNamesError('format', missing, left, ' in the store');
    });

  format
    .command('list')
    .description('NAME  TEMPLATE  SOURCE: built in, config or store; the one a drain uses comes first')
    .option('--json', 'print JSON')
    .action(async (opts: { json?: boolean }, cmd: Command) => {
      const config = configOf(cmd);
      const stored = await withStore(config, (store) => store.listFormats());
      const rows = new Map<string, { name: string; template: string; source: string }>();
      for (const [name, template] of Object.entries(BUILTIN_FORMATS)) rows.set(name, { name, template, source: 'built in' });
      // A named format replaces a built-in one of the same name, as it does in a core.
      for (const [name, template] of Object.entries(nodeFormats(config, stored))) {
        rows.set(name, { name, template, source: Object.hasOwn(config.formats, name) ? 'config' : 'store' });
      }
      const sorted = [...rows.values()].sort((a, b) => compareNames(a.name, b.name));
      if (opts.json) {
        process.stdout.write(JSON.stringify(sorted, null, 2) + '\n');
        return;
      }
      process.stdout.write(formatTable(sorted.map((r) => [r.name, JSON.stringify(r.template), r.source])));
    });
}
