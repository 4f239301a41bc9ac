import type { Command } from 'commander';
import { isatty } from 'node:tty';
import { createServer, type Server, type Socket } from 'node:net';
import { decodeLines, defaultListenHost, filterProblem } from '@logyard/bus';
import { openStore, type Store, type TemporaryHandle } from '@logyard/store';
import { configOf } from '../context.js';
import { coreSocketPresent } from '../status-client.js';
import { usageError } from '../errors.js';
import { eventPrinter, type EventPrinter } from '../output/event-printer.js';
import { FdWriter } from '../output/fd-writer.js';
import { namedFormats } from './format.js';
import { prefixHints } from '../tail-hints.js';

interface TailOptions {
  json?: boolean;
  raw?: boolean;
  format?: string;
  node?: string;
  color: boolean;
  listen?: string;
}

/** How long a closing tail waits for the cores to notice its drain is gone and hang up. */
const DISCONNECT_WAIT_MS = 1_000;
const NEWLINE = 0x0a;
/** How long a closing tail tries to write out what it has already printed. */
const OUTPUT_FLUSH_MS = 2_000;
/** Output waiting for a slow reader before the tail stops reading from the cores. */
const OUTPUT_HIGH_WATER = 256 * 1024;

export function registerTailCommand(program: Command): void {
  program
    .command('tail')
    .description('streams the events of every node through a temporary drain until interrupted')
    .argument('[prefixes...]', 'key prefixes (default: systail)')
    .option('--json', 'print each event as JSON')
    .option('--raw', 'print each event as KEY JSON')
    .option('--format <format>', 'a named format or an inline {{template}} for every event')
    .option('--node <id>', "only this node's events")
    .option('--no-color', 'no highlighting of ERROR and WARN lines')
    .option('--listen <host>', "address the cores connect to (default: this node's address; 127.0.0.1 with the file store)")
    .action(async (prefixes: string[], opts: TailOptions, cmd: Command) => {
      const filters = prefixes.length ? prefixes : ['systail'];
      for (const filter of filters) {
        const problem = filterProblem(filter);
        if (problem) throw usageError(`prefix "${filter}": ${problem}`);
      }
      const config = configOf(cmd);
      const store = await openStore(config.store);
      const tail = new Tail(store);
      try {
        const color = opts.color && isatty(1);
        const printer = eventPrinter({
          json: opts.json,
          raw: opts.raw,
          format: opts.format,
          formats: await namedFormats(config, store),
          nodeId: opts.node,
          color,
        });
        // The cores send `KEY JSON` lines, which is what --raw prints: then there is nothing to do per line.
        const passThrough = opts.raw === true && opts.node === undefined && !color;
        const host = opts.listen ?? defaultListenHost(config.store, config.nodeId);
        await tail.start(passThrough ? null : printer, host, filters, config.nodeId);
        // The drain is in the store either way; without a core here, this node's events cannot come.
        if (!coreSocketPresent(config.runDir)) {
          const what = config.store.startsWith('file://') ? 'nothing arrives until one starts (logyard start)' : "this node's events arrive once one starts; the other nodes' come meanwhile";
          process.stderr.write(`logyard: note: no core running on ${config.runDir}: ${what}\n`);
        }
        // A mistyped prefix prints nothing, forever: say what it may have meant, and go on (the key may still come).
        void prefixHints(filters, config).then((hints) => {
          for (const hint of hints) process.stderr.write(`logyard: ${hint}\n`);
        });
      } catch (err) {
        await tail.close();
        throw err;
      }
      await tail.finished;
      // A write to a stalled reader may still be pending in the threadpool after the flush
      // window; it must not keep the process alive.
      process.exit(0);
    });
}

/**
 * A temporary drain and the listener it points at: every core connects and sends its matching
 * events as `KEY JSON` lines, which are printed as they come. Output is written off the event
 * loop (FdWriter), so a stalled reader never stops the lease or expiry refreshes that keep the
 * drain alive; while the output is backed up, the tail stops reading,
 * the cores' drain buffers fill, and they drop the oldest events with the usual notice.
 */
class Tail {
  private server: Server | null = null;
  private readonly sockets = new Set<Socket>();
  private handle: TemporaryHandle | null = null;
  private readonly output = new FdWriter(
    1,
    OUTPUT_HIGH_WATER,
    () => {
      this.outputBlocked = false;
      for (const socket of this.sockets) socket.resume();
    },
    // The reader went away (`logyard tail | head`): that ends the tail, not as a failure.
    () => void this.close().then(this.finish),
  );
  private outputBlocked = false;
  /** Set once the tail is closing: what still arrives is read and not printed. */
  private stopping = false;
  private onDisconnect: (() => void) | null = null;
  private closing: Promise<void> | null = null;
  private finish!: () => void;
  readonly finished = new Promise<void>((resolve) => (this.finish = resolve));

  constructor(private readonly store: Store) {}

  /** `printer` null: the lines are printed as the cores send them (`--raw`). */
  async start(printer: EventPrinter | null, host: string, filters: string[], nodeId: string): Promise<void> {
    const server = createServer((socket) => this.follow(socket, printer));
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', (err: NodeJS.ErrnoException) => reject(usageError(`--listen ${host}: cannot listen there (${err.code ?? err.message})`)));
      server.listen(0, host, () => resolve());
    });
    const { port } = server.address() as { port: number };
    const name = `tmp.tail.${nodeId.replace(/[^A-Za-z0-9_.-]/g, '-')}.${port}`;
    const query = [...filters.map((f) => `filter=${encodeURIComponent(f)}`), 'format=raw'].join('&');
    const uri = `tcp://${host.includes(':') ? `[${host}]` : host}:${port}?${query}`;
    this.handle = await this.store.putTemporaryDrain(name, uri);
    for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
      process.once(signal, () => void this.close().then(this.finish));
    }
    process.stderr.write(`logyard: tailing ${filters.join(', ')} from every node through drain ${name} (Ctrl-C to stop)\n`);
  }

  /** Removes the drain (so the cores stop at once), then lets go of the listener and the store. Safe to call twice. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      await this.handle?.release().catch((err: Error) => {
        process.stderr.write(`logyard: could not remove the tail's drain (${err.message}); it expires by itself within 10 s\n`);
      });
      // The cores close their connections once they see the drain gone; cutting them first would
      // only make them log a failed connection and retry.
      this.stopping = true;
      for (const socket of this.sockets) socket.resume();
      await this.allDisconnected(DISCONNECT_WAIT_MS);
      for (const socket of this.sockets) socket.destroy();
      await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
      await this.store.close().catch(() => undefined);
      await this.output.flush(OUTPUT_FLUSH_MS);
    })();
    return this.closing;
  }

  /** Reads one core's connection: whole lines only, so that lines of different cores never interleave. */
  private follow(socket: Socket, printer: EventPrinter | null): void {
    this.sockets.add(socket);
    if (this.outputBlocked) socket.pause();
    let partial: Buffer | null = null;
    socket.on('data', (chunk: Buffer) => {
      if (this.stopping) return;
      const end = chunk.lastIndexOf(NEWLINE);
      if (end < 0) {
        partial = partial ? Buffer.concat([partial, chunk]) : chunk;
        return;
      }
      const lines = partial ? Buffer.concat([partial, chunk.subarray(0, end + 1)]) : chunk.subarray(0, end + 1);
      partial = end + 1 < chunk.length ? Buffer.from(chunk.subarray(end + 1)) : null;
      const out = printer ? printLines(lines.toString('utf8'), printer) : lines;
      if (out.length > 0 && !this.output.write(out)) {
        this.outputBlocked = true;
        for (const s of this.sockets) s.pause();
      }
    });
    socket.on('error', () => undefined);
    socket.on('close', () => {
      this.sockets.delete(socket);
      this.onDisconnect?.();
    });
  }

  private async allDisconnected(timeoutMs: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    await new Promise<void>((resolve) => {
      timer = setTimeout(resolve, timeoutMs);
      this.onDisconnect = () => {
        if (this.sockets.size === 0) resolve();
      };
      this.onDisconnect();
    });
    clearTimeout(timer);
  }
}

/** `KEY JSON` lines, each ending in '\n', through the printer (nothing a core sends is malformed). */
function printLines(text: string, printer: EventPrinter): string {
  let out = '';
  decodeLines(text, { event: (key, json) => (out += printer(key, json) ?? ''), malformed: () => {} });
  return out;
}

