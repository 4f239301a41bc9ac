import type { Command } from 'commander';
import { createInterface } from 'node:readline';
import { keyProblem, Publisher } from '@logyard/bus';
import { configOf } from '../context.js';
import { runtimeError, usageError } from '../errors.js';

const CONNECT_TIMEOUT_MS = 3000;
/** Pause reading stdin above this many queued events, so a big pipe is never cut by drops. */
const MAX_QUEUED_WHILE_READING = 20_000;

export function registerPublishCommand(program: Command): void {
  program
    .command('publish')
    .description('publish one event per TEXT, or one per stdin line')
    .argument('<key>', 'the events\' key, e.g. systail.myapp')
    .argument('[text...]', 'event texts (default: read stdin, one event a line)')
    .option('--json', 'each TEXT/line is an event object whose fields are kept')
    .action(async (key: string, texts: string[], opts: { json?: boolean }, cmd: Command) => {
      const config = configOf(cmd);
      const problem = keyProblem(key);
      if (problem) throw usageError(problem);
      const toEvent = (input: string, where: string): string | Record<string, unknown> => {
        if (!opts.json) return input;
        let value: unknown;
        try {
          value = JSON.parse(input);
        } catch {
          throw usageError(`${where}: not valid JSON`);
        }
        if (typeof value !== 'object' || value === null || Array.isArray(value)) throw usageError(`${where}: not a JSON object`);
        if (typeof (value as Record<string, unknown>).text !== 'string') throw usageError(`${where}: event has no string "text" field`);
        return value as Record<string, unknown>;
      };
      // Validate arguments before connecting, so bad input costs nothing.
      const fromArgs = texts.map((t, i) => toEvent(t, `TEXT ${i + 1}`));

      const publisher = new Publisher({ runDir: config.runDir, nodeId: config.nodeId });
      try {
        if (!(await publisher.waitConnected(CONNECT_TIMEOUT_MS))) {
          throw runtimeError(`no core running on ${config.runDir} (start one with: logyard start)`);
        }
        let bad = 0;
        if (texts.length > 0) {
          for (const ev of fromArgs) publisher.publish(key, ev);
        } else {
          let n = 0;
          for await (const line of createInterface({ input: process.stdin, crlfDelay: Infinity })) {
            n++;
            let ev: string | Record<string, unknown>;
            try {
              ev = toEvent(line, `stdin line ${n}`);
            } catch (err) {
              // One bad line is reported and skipped; the rest of the stream still goes out.
              process.stderr.write(`logyard: ${(err as Error).message}, skipped\n`);
              bad++;
              continue;
            }
            publisher.publish(key, ev);
            if (publisher.stats().queued > MAX_QUEUED_WHILE_READING) await publisher.flush(30_000);
          }
        }
        if (!(await publisher.flush(10_000))) throw runtimeError(`the core on ${config.runDir} did not take the events in 10 s`);
        const dropped = Object.values(publisher.stats().dropped).reduce((a, b) => a + b, 0);
        if (dropped > 0) throw runtimeError(`${dropped} events were dropped (core not keeping up)`);
        if (bad > 0) throw usageError(`${bad} stdin lines were not valid events and were skipped`);
      } finally {
        await publisher.close(1000);
      }
    });
}
