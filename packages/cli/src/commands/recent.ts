import type { Command } from 'commander';
import { decodeLines } from '@logyard/bus';
import { parseDrainUri, readRecent } from '@logyard/drains';
import { configOf, withStore } from '../context.js';
import { unknownNamesError } from '../unknown-names.js';
import { usageError } from '../errors.js';
import { eventPrinter } from '../output/event-printer.js';
import { namedFormats } from './format.js';

const REDIS_SCHEMES = ['redis', 'rediss'];

export function registerRecentCommand(program: Command): void {
  program
    .command('recent')
    .description('the N newest events kept by the redis drain NAME, oldest first')
    .argument('<name>', 'a redis drain (stored or built in)')
    .option('-n <count>', 'how many events', '100')
    .option('--json', 'print each event as JSON')
    .action(async (name: string, opts: { n: string; json?: boolean }, cmd: Command) => {
      if (!/^[1-9][0-9]*$/.test(opts.n)) throw usageError(`-n ${opts.n}: must be a positive integer`);
      const count = Number(opts.n);
      const config = configOf(cmd);
      const { uri, formats, known } = await withStore(config, async (store) => {
        const uri = config.builtinDrains[name] ?? (await store.getDrain(name))?.uri;
        const known = uri === undefined ? [...Object.keys(config.builtinDrains), ...(await store.listDrains()).map((d) => d.name)] : [];
        return { uri, formats: await namedFormats(config, store), known };
      });
      if (uri === undefined) throw unknownNamesError('drain', [name], known);
      const spec = parseDrainUri(uri, { formats });
      if (!REDIS_SCHEMES.includes(spec.scheme)) {
        throw usageError(`drain ${name} is a ${spec.scheme} drain: recent reads what a redis drain keeps`);
      }
      const print = eventPrinter({ json: opts.json, formats, color: false });
      // With a `key` param every event shares one list: its stream is the drain's filter (builtin.events: event).
      const streamOf = (list: string): string => (spec.params.key !== undefined ? (spec.filters[0] ?? list) : list);
      let out = '';
      for (const { list, line } of await readRecent(spec, count)) {
        if (spec.format === 'json') out += print(streamOf(list), line) ?? '';
        else if (spec.format === 'raw') {
          // Kept as `KEY JSON`; anything else someone wrote into the list is shown as it is.
          if (decodeLines(line, { event: (key, json) => (out += print(key, json) ?? ''), malformed: () => {} }) === 0) out += line + '\n';
        } else out += line + '\n'; // kept already formatted by the drain's own template
      }
      process.stdout.write(out);
    });
}
