import { Subscriber as ZmqSubscriber } from 'zeromq';
import { corePaths } from './paths.js';
import { checkRunDirSocket, ensureRunDir } from './run-dir.js';
import { decodeLines, WIRE_MAGIC } from './wire.js';

export interface SubscribedEvent {
  key: string;
  /** The event's JSON as published. */
  json: string;
}

/**
 * Subscribes to the local core's events whose key starts with one of `prefixes`.
 *
 * Each prefix is its own channel: the core sends a batch per channel with the topic
 * "<prefix>\0", so ZeroMQ's topic matching is exact. Prefixes covered by a shorter one of
 * the same subscriber are dropped, so every event arrives once. The constructor creates run_dir
 * when missing and throws UnsafeRunDirError for one another user owns or can write.
 */
export class Subscriber implements AsyncIterable<SubscribedEvent> {
  private readonly socket: ZmqSubscriber;
  private closed = false;

  constructor(options: { runDir: string; prefixes: readonly string[] }) {
    const paths = corePaths(options.runDir);
    ensureRunDir(paths.runDir);
    checkRunDirSocket(paths.subscribeSocket, paths.runDir);
    this.socket = new ZmqSubscriber({ linger: 0 });
    this.socket.connect(paths.subscribeEndpoint);
    for (const p of normalizePrefixes(options.prefixes)) this.socket.subscribe(p + '\0');
  }

  async *[Symbol.asyncIterator](): AsyncIterator<SubscribedEvent> {
    while (!this.closed) {
      let frames: Buffer[];
      try {
        frames = await this.socket.receive();
      } catch (err) {
        if (this.closed) return;
        throw err;
      }
      const body = frames[1];
      if (!body) continue;
      const s = body.toString('utf8');
      const events: SubscribedEvent[] = [];
      decodeLines(s.startsWith(WIRE_MAGIC) ? s.slice(WIRE_MAGIC.length) : s, { event: (key, json) => events.push({ key, json }), malformed: () => {} });
      yield* events;
    }
  }

  /** Safe to call twice. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.socket.close();
  }
}

/** The prefixes not covered by another one of the list ("" covers all). */
export function normalizePrefixes(prefixes: readonly string[]): string[] {
  const list = prefixes.length === 0 ? [''] : [...new Set(prefixes)];
  return list.filter((p) => !list.some((q) => q !== p && p.startsWith(q)));
}
