import type { Command } from 'commander';
import { fitsMaxEvent, keyProblem, Publisher, textEventJson } from '@logyard/bus';
import { configOf } from '../context.js';
import { runtimeError, usageError } from '../errors.js';

const CONNECT_TIMEOUT_MS = 3000;
/** Pause reading stdin above this many queued events or bytes, so a big pipe is never cut by drops. */
const MAX_QUEUED_WHILE_READING = 20_000;
const MAX_QUEUED_BYTES_WHILE_READING = 8 * 1024 * 1024;

type Input = string | Record<string, unknown>;

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
      const maxEvent = config.maxEvent;
      const toEvent = (input: string, where: string): Input => {
        if (!opts.json) return input;
        // An object longer than max_event is refused, not cut (its fields could not be kept).
        if (!fitsMaxEvent(input, maxEvent)) throw usageError(`${where}: longer than max_event (${maxEvent} bytes)`);
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

      const publisher = new Publisher({ runDir: config.runDir, nodeId: config.nodeId, maxEvent });
      try {
        if (!(await publisher.waitConnected(CONNECT_TIMEOUT_MS))) {
          throw runtimeError(`no core running on ${config.runDir} (start one with: logyard start)`);
        }
        let skipped = 0;
        if (texts.length > 0) {
          for (const ev of fromArgs) publisher.publish(key, ev);
          const split = publisher.stats().tooLong;
          if (split > 0 && !opts.json) process.stderr.write(`logyard: ${split} texts were longer than max_event (${maxEvent} bytes), each split into several events\n`);
        } else {
          skipped = await publishStdin(publisher, key, opts.json === true, toEvent);
        }
        if (!(await publisher.flush(10_000))) throw runtimeError(`the core on ${config.runDir} did not take the events in 10 s`);
        const { too_long: tooLong, ...dropped } = publisher.stats().dropped;
        const lost = Object.values(dropped).reduce((a, b) => a + b, 0);
        if (lost > 0) throw runtimeError(`${lost} events were dropped (core not keeping up)`);
        if (tooLong > 0) throw usageError(`${tooLong} events were longer than max_event (${maxEvent} bytes) with their stamped fields, refused`);
        if (skipped > 0) throw usageError(`${skipped} stdin lines were not valid events and were skipped`);
      } finally {
        await publisher.close(1000);
      }
    });
}

/**
 * One event per stdin line, read as it streams: a line is never held whole, so a 1 GB line costs
 * about max_event of memory, not a RangeError. A text line longer than fits in one event goes out
 * as several (told on stderr); with --json such a line is refused. Returns the lines skipped.
 */
async function publishStdin(publisher: Publisher, key: string, json: boolean, toEvent: (input: string, where: string) => Input): Promise<number> {
  let n = 0;
  let skipped = 0;
  let split = 0;
  const skip = (message: string): void => {
    // One bad line is reported and skipped; the rest of the stream still goes out.
    process.stderr.write(`logyard: ${message}, skipped\n`);
    skipped++;
  };
  const maxEvent = publisher.maxEvent;
  // Text: pieces that fit in an event beside its stamped fields (the publisher cuts again what
  // escaping makes longer). JSON: the line is the event.
  const maxLine = json ? maxEvent : maxEvent - Buffer.byteLength(textEventJson('', publisher.nodeId)) - 64;
  // Loaded here: every other command (a core among them) would carry the tailer and its file watcher.
  const { LineSplitter } = await import('@logyard/tailer');
  const splitter = new LineSplitter(maxLine, (line, _offset, part) => {
    if (part !== 'more') n++;
    if (!json) {
      if (part === 'first') split++;
      publisher.publishLine(key, line);
    } else if (part === 'first') {
      skip(`stdin line ${n}: longer than max_event (${maxEvent} bytes)`);
    } else if (part === 'whole') {
      try {
        publisher.publish(key, toEvent(line, `stdin line ${n}`));
      } catch (err) {
        skip((err as Error).message);
      }
    }
  });
  for await (const chunk of process.stdin as AsyncIterable<Buffer>) {
    splitter.push(chunk);
    const { queued, queuedBytes } = publisher.stats();
    if (queued > MAX_QUEUED_WHILE_READING || queuedBytes > MAX_QUEUED_BYTES_WHILE_READING) await publisher.flush(30_000);
  }
  splitter.end();
  if (split > 0) process.stderr.write(`logyard: ${split} stdin lines were longer than max_event (${maxEvent} bytes), each split into several events\n`);
  const binary = splitter.counters.binary;
  if (binary > 0) process.stderr.write(`logyard: ${binary} stdin lines were not text (a NUL byte or invalid UTF-8), skipped\n`);
  return skipped + binary;
}
