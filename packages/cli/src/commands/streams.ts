import type { Command } from 'commander';
import { filterProblem } from '@logyard/bus';
import { streamRows } from '@logyard/store';
import { configOf, withStore } from '../context.js';
import { usageError } from '../errors.js';
import { formatTable } from '../table.js';
import { ago, perSecond } from '../live/units.js';
import { closePrefixes } from '../tail-hints.js';

export function registerStreamsCommand(program: Command): void {
  program
    .command('streams')
    .description('the keys seen on every node in the last 10 minutes, busiest first: KEY  NODES  EVENTS/S  LAST SEEN')
    .argument('[prefix]', 'only keys starting with this prefix')
    .option('--json', 'print JSON')
    .action(async (prefix: string | undefined, opts: { json?: boolean }, cmd: Command) => {
      if (prefix !== undefined) {
        const problem = filterProblem(prefix);
        if (problem) throw usageError(`prefix "${prefix}": ${problem}`);
      }
      const config = configOf(cmd);
      const nodes = await withStore(config, (store) => store.listNodeStatus());
      const rows = streamRows(nodes, prefix ?? '');
      if (prefix && rows.length === 0) {
        const close = closePrefixes(prefix, streamRows(nodes).map((row) => row.key));
        if (close.length) process.stderr.write(`logyard: no key seen in the last 10 minutes starts with ${prefix}; did you mean ${close.join(' or ')}?\n`);
      }
      if (opts.json) {
        process.stdout.write(JSON.stringify(rows, null, 2) + '\n');
        return;
      }
      const now = Date.now() / 1000;
      const table = [['KEY', 'NODES', 'EVENTS/S', 'LAST SEEN']];
      for (const row of rows) table.push([row.key, row.nodes.join(','), perSecond(row.events_per_s), ago(row.last_seen, now)]);
      process.stdout.write(formatTable(table));
    });
}
