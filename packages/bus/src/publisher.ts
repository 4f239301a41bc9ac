import { Push } from 'zeromq';
import { keyProblem } from './keys.js';
import { eventJson, textEventJson } from './event.js';
import { encodeBatch, wireLine } from './wire.js';
import { corePaths } from './paths.js';
import { defaultNodeId } from './node-id.js';
import { humanTime, nowUnix } from './time.js';

export interface PublisherOptions {
  /** The core's run_dir. */
  runDir: string;
  /** Stamped on events that carry none. Default: the node's default node_id. */
  nodeId?: string;
  /** Events held while the core is slow or absent; past this, new events are dropped and counted. */
  maxQueuedEvents?: number;
  /** Upper bounds of one batch (one ZeroMQ message). */
  maxBatchEvents?: number;
  maxBatchBytes?: number;
}

export type PublisherDropReason = 'queue_full' | 'invalid_key' | 'invalid_event';

export interface PublisherStats {
  published: number;
  sent: number;
  queued: number;
  dropped: Record<PublisherDropReason, number>;
}

const RETRY_MS = 50;

/**
 * Publishes events to the local core. Never blocks or throws into the caller: `publish`
 * only appends to a bounded in-memory queue; batches leave from the event loop. When the
 * core is slow or absent the queue fills and further events are dropped and counted; once
 * the core takes events again, a notice with the count goes out in the dropped events' key.
 */
export class Publisher {
  readonly nodeId: string;
  private readonly socket: Push;
  private readonly maxQueued: number;
  private readonly maxBatchEvents: number;
  private readonly maxBatchBytes: number;
  /** Lines not yet handed to ZeroMQ; `held` is a batch ZeroMQ refused and that goes first. */
  private lines: string[] = [];
  private linesBytes = 0;
  private held: { frame: string; count: number } | null = null;
  private sending = false;
  private scheduled = false;
  private retryTimer: NodeJS.Timeout | null = null;
  private closed = false;
  private closing: Promise<void> | null = null;
  private connectedPeers = 0;
  private drainWaiters: Array<() => void> = [];
  private connectWaiters: Array<() => void> = [];
  private gap: { count: number; since: number; key: string } | null = null;
  private readonly stats_: PublisherStats = {
    published: 0,
    sent: 0,
    queued: 0,
    dropped: { queue_full: 0, invalid_key: 0, invalid_event: 0 },
  };

  constructor(options: PublisherOptions) {
    this.nodeId = options.nodeId ?? defaultNodeId();
    this.maxQueued = options.maxQueuedEvents ?? 100_000;
    this.maxBatchEvents = options.maxBatchEvents ?? 2048;
    // Kept below V8's large-object size (~128 KiB) so the core's decoded batch strings die young
    // (cheap scavenges) instead of piling up in the old generation between full GCs.
    this.maxBatchBytes = options.maxBatchBytes ?? 96 * 1024;
    // sendTimeout 0 + immediate: ZeroMQ refuses at once instead of blocking or queueing
    // for an absent core, so our own bounded queue is the only buffer and drops are ours to count.
    this.socket = new Push({ sendTimeout: 0, immediate: true, sendHighWaterMark: 64, linger: 2000 });
    this.socket.events.on('connect', () => {
      this.connectedPeers++;
      for (const w of this.connectWaiters.splice(0)) w();
      this.kick();
    });
    this.socket.events.on('disconnect', () => {
      this.connectedPeers = Math.max(0, this.connectedPeers - 1);
    });
    this.socket.connect(corePaths(options.runDir).publishEndpoint);
  }

  get connected(): boolean {
    return this.connectedPeers > 0;
  }

  /** Resolves true once connected to a core, false after `timeoutMs`. */
  waitConnected(timeoutMs: number): Promise<boolean> {
    if (this.connected) return Promise.resolve(true);
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        resolve(true);
      };
      const timer = setTimeout(() => {
        this.connectWaiters = this.connectWaiters.filter((w) => w !== done);
        resolve(false);
      }, timeoutMs);
      this.connectWaiters.push(done);
    });
  }

  /**
   * Queues one event: a text, or an object whose fields are kept (it must have a string `text`).
   * Returns false when the event was dropped (counted in `stats().dropped`).
   */
  publish(key: string, event: string | Record<string, unknown>): boolean {
    if (this.closed) return this.drop('queue_full', key);
    if (keyProblem(key)) return this.drop('invalid_key', key);
    const json = typeof event === 'string' ? textEventJson(event, this.nodeId) : eventJson(event, this.nodeId);
    if (json === null) return this.drop('invalid_event', key);
    return this.publishJson(key, json);
  }

  /** Queues an already serialized event. The caller vouches for its key and JSON. */
  publishJson(key: string, json: string): boolean {
    if (this.closed || this.queued >= this.maxQueued) return this.drop('queue_full', key);
    const line = wireLine(key, json);
    this.lines.push(line);
    this.linesBytes += line.length + 1;
    this.stats_.published++;
    this.kick();
    return true;
  }

  stats(): PublisherStats {
    return { ...this.stats_, queued: this.queued, dropped: { ...this.stats_.dropped } };
  }

  /** Resolves true when everything queued has been handed to ZeroMQ, false on timeout. */
  flush(timeoutMs = 5000): Promise<boolean> {
    if (this.queued === 0) return Promise.resolve(true);
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        resolve(true);
      };
      const timer = setTimeout(() => {
        this.drainWaiters = this.drainWaiters.filter((w) => w !== done);
        resolve(false);
      }, timeoutMs);
      this.drainWaiters.push(done);
    });
  }

  /** Flushes (up to `timeoutMs`), then closes; ZeroMQ lingers to deliver what it holds. Safe to call twice. */
  close(timeoutMs = 5000): Promise<void> {
    if (!this.closing) {
      this.closing = (async () => {
        await this.flush(timeoutMs);
        this.closed = true;
        if (this.retryTimer) clearTimeout(this.retryTimer);
        while (this.sending) await new Promise((r) => setTimeout(r, 5));
        this.socket.close();
      })();
    }
    return this.closing;
  }

  private get queued(): number {
    return this.lines.length + (this.held ? this.held.count : 0);
  }

  private drop(reason: PublisherDropReason, key: string): false {
    this.stats_.dropped[reason]++;
    if (reason === 'queue_full') {
      if (this.gap) this.gap.count++;
      else this.gap = { count: 1, since: nowUnix(), key };
    }
    return false;
  }

  private kick(): void {
    if (this.scheduled || this.sending || this.retryTimer || this.closed) return;
    this.scheduled = true;
    // setImmediate lets a synchronous burst of publish() calls fill one batch.
    setImmediate(() => {
      this.scheduled = false;
      void this.pump();
    });
  }

  private nextBatch(): { frame: string; count: number } | null {
    if (this.held) return this.held;
    if (this.lines.length === 0) return null;
    if (this.gap) {
      const g = this.gap;
      this.gap = null;
      const text = `logyard: dropped ${g.count} events since ${humanTime(g.since)} (publisher queue full)`;
      this.lines.unshift(wireLine(g.key, textEventJson(text, this.nodeId)));
    }
    let n = 0;
    let bytes = 0;
    if (this.linesBytes <= this.maxBatchBytes && this.lines.length <= this.maxBatchEvents) {
      n = this.lines.length;
      bytes = this.linesBytes;
    } else {
      while (n < this.lines.length && n < this.maxBatchEvents && bytes < this.maxBatchBytes) {
        bytes += this.lines[n].length + 1;
        n++;
      }
    }
    const batch = n === this.lines.length ? this.lines : this.lines.slice(0, n);
    this.lines = n === this.lines.length ? [] : this.lines.slice(n);
    this.linesBytes -= bytes;
    this.held = { frame: encodeBatch(batch), count: n };
    return this.held;
  }

  private async pump(): Promise<void> {
    if (this.sending || this.closed) return;
    this.sending = true;
    try {
      for (;;) {
        const batch = this.nextBatch();
        if (!batch) break;
        try {
          await this.socket.send(batch.frame);
        } catch {
          // EAGAIN: no core, or it is not keeping up. Keep the batch and try again shortly.
          this.retryTimer = setTimeout(() => {
            this.retryTimer = null;
            this.kick();
          }, RETRY_MS);
          return;
        }
        this.held = null;
        this.stats_.sent += batch.count;
      }
      for (const w of this.drainWaiters.splice(0)) w();
    } finally {
      this.sending = false;
    }
  }
}
