import { randomBytes } from 'node:crypto';
import { Dealer } from 'zeromq';
import { DEFAULT_MAX_EVENT } from './event.js';
import { EventIntake, type PublisherStats } from './event-intake.js';
import { BatchBuilder, MAX_BATCH_BYTES, MAX_BATCH_EVENTS, oneEventBatch } from './batch-builder.js';
import { batchHeader, endHeader, parseAck } from './wire.js';
import { corePaths } from './paths.js';
import { checkRunDirSocket, ensureRunDir } from './run-dir.js';
import { defaultNodeId } from './node-id.js';

export interface PublisherOptions {
  /** The core's run_dir. */
  runDir: string;
  /** Stamped on events that carry none. Default: the node's default node_id. */
  nodeId?: string;
  /** Events held while the core is slow or absent; past this, new events are dropped and counted. */
  maxQueuedEvents?: number;
  /** Bytes of events held, likewise (default 64 MiB). */
  maxQueuedBytes?: number;
  /** The largest event in bytes (the config's max_event; default 1 MiB). */
  maxEvent?: number;
  /** Upper bounds of one batch (one ZeroMQ message). */
  maxBatchEvents?: number;
  maxBatchBytes?: number;
}

/** A batch from the moment it is cut until the core confirms it; sent again after a reconnect. */
interface Batch {
  seq: number;
  count: number;
  body: Buffer;
  /** Every event of it is as JSON.stringify writes it (WireBatch.knownValid): its header says so. */
  knownValid: boolean;
}

const RETRY_MS = 50;
/** Buffers of confirmed batches are kept for reuse until nothing was queued for this long. */
const RELEASE_IDLE_MS = 1000;
/**
 * Batches cut and not yet confirmed. Confirmations are the flow control: the core confirms as it
 * takes batches, so a window well above its receive queue (8) keeps it busy while bounding what a
 * publisher holds for sending again (at most 16 MiB of 512 KiB batches, within maxQueuedBytes).
 */
const MAX_UNCONFIRMED_BATCHES = 32;
/** Batches sent in a row without asking the core to confirm (a quarter of the window). */
const CONFIRM_EVERY = 8;

/**
 * Publishes events to the local core. Never blocks or throws into the caller: `publish`
 * only appends to a bounded in-memory queue; batches leave from the event loop. When the
 * core is slow or absent the queue fills and further events are dropped and counted; once
 * the core takes events again, a notice with the count goes out in the dropped events' key.
 *
 * Every batch stays with the publisher until the core confirms it (see wire.ts), and is sent
 * again after a reconnect (a restarted core), so neither ZeroMQ's queues nor a core that dies
 * loses events silently; close() disconnects only once the core confirmed everything, or counts
 * what it could not confirm as `unconfirmed`.
 *
 * The constructor creates run_dir when missing and throws UnsafeRunDirError for one another user
 * owns or can write (docs/operations.md, run_dir).
 */
export class Publisher extends EventIntake {
  /** Names this publisher to the core, which tracks its sequence of events. */
  readonly id = `${process.pid.toString(36)}-${randomBytes(6).toString('hex')}`;
  private readonly socket: Dealer;
  private readonly maxQueued: number;
  private readonly maxQueuedBytes: number;
  /** Batches cut and not yet confirmed, in sequence order; those from `sendFrom` on are not sent yet. */
  private outbox: Batch[] = [];
  private outboxEvents = 0;
  private outboxBytes = 0;
  /** Sequence number of the next batch to cut, and of the first event not yet handed to ZeroMQ. */
  private nextSeq = 0;
  private sendFrom = 0;
  /** Set by a (re)connect: send every unconfirmed batch again, from the first. */
  private rewind = false;
  /** Batches sent since the last one that asked for a confirmation. */
  private unasked = 0;
  private sending = false;
  private scheduled = false;
  private retryTimer: NodeJS.Timeout | null = null;
  private releaseTimer: NodeJS.Timeout | null = null;
  private closing: Promise<void> | null = null;
  private readonly receiving: Promise<void>;
  private connectedPeers = 0;
  private drainWaiters: Array<() => void> = [];
  private connectWaiters: Array<() => void> = [];
  private endWaiter: (() => void) | null = null;

  constructor(options: PublisherOptions) {
    // Events not yet handed to ZeroMQ wait in `batches`, written into the batches they will be sent
    // in; the buffers of the batches the core confirmed are written into again (see confirmed).
    super(
      options.nodeId ?? defaultNodeId(),
      options.maxEvent ?? DEFAULT_MAX_EVENT,
      new BatchBuilder(options.maxBatchEvents ?? MAX_BATCH_EVENTS, options.maxBatchBytes ?? MAX_BATCH_BYTES, true, { keepFree: MAX_UNCONFIRMED_BATCHES }),
    );
    this.maxQueued = options.maxQueuedEvents ?? 100_000;
    this.maxQueuedBytes = options.maxQueuedBytes ?? 64 * 1024 * 1024;
    // sendTimeout 0 + immediate: ZeroMQ refuses at once instead of blocking or queueing for an
    // absent core, so our own bounded queue is the only buffer and drops are ours to count.
    // linger 0: by the time we close, the core has confirmed everything (or we counted it).
    this.socket = new Dealer({ sendTimeout: 0, immediate: true, sendHighWaterMark: 2 * MAX_UNCONFIRMED_BATCHES, linger: 0 });
    this.socket.events.on('connect', () => {
      this.connectedPeers++;
      // A new connection is a new core, or the old one after a hiccup: what it did not confirm
      // may be lost with the old connection, so all of it goes again (a core skips what it has).
      this.rewind = true;
      for (const w of this.connectWaiters.splice(0)) w();
      this.kick();
    });
    this.socket.events.on('disconnect', () => {
      this.connectedPeers = Math.max(0, this.connectedPeers - 1);
    });
    const paths = corePaths(options.runDir);
    // Before connecting: a run_dir another user made could hold their socket in place of the core's.
    ensureRunDir(paths.runDir);
    checkRunDirSocket(paths.publishSocket, paths.runDir);
    this.socket.connect(paths.publishEndpoint);
    this.receiving = this.readConfirmations();
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

  protected full(): boolean {
    return this.queued >= this.maxQueued || this.queuedBytes >= this.maxQueuedBytes;
  }

  protected queueFill(): number {
    return Math.max(this.queued / this.maxQueued, this.queuedBytes / this.maxQueuedBytes);
  }

  protected wake(): void {
    this.kick();
  }

  stats(): PublisherStats {
    let inFlight = 0;
    for (const b of this.outbox) if (b.seq < this.sendFrom) inFlight += b.count;
    return { ...this.stats_, queued: this.queued, inFlight, queuedBytes: this.queuedBytes, dropped: { ...this.stats_.dropped } };
  }

  /** Resolves true once the core has confirmed every event published so far, false on timeout. */
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

  /**
   * Waits (up to `timeoutMs`) until the core has confirmed everything, says goodbye so that
   * nothing is in flight when the connection closes, then closes. What the core did not confirm
   * by then is counted as dropped (`unconfirmed`). Safe to call twice; later calls await the first.
   */
  close(timeoutMs = 5000): Promise<void> {
    this.closing ??= (async () => {
      const deadline = Date.now() + timeoutMs;
      const flushed = await this.flush(timeoutMs);
      this.closed = true;
      if (this.retryTimer) clearTimeout(this.retryTimer);
      if (this.releaseTimer) clearTimeout(this.releaseTimer);
      this.retryTimer = null;
      await this.idle();
      if (flushed && this.nextSeq > 0) await this.sayGoodbye(deadline - Date.now());
      const left = this.queued;
      if (left > 0) {
        this.stats_.dropped.unconfirmed += left;
        this.batches.clear();
        this.outbox = [];
        this.outboxEvents = 0;
        this.outboxBytes = 0;
      }
      this.socket.close();
      await this.receiving;
    })();
    return this.closing;
  }

  private get queued(): number {
    return this.batches.events + this.outboxEvents;
  }

  private get queuedBytes(): number {
    return this.batches.bytes + this.outboxBytes;
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

  /** Resolves once no send is in progress (ZeroMQ takes one send at a time). */
  private async idle(): Promise<void> {
    while (this.sending) await new Promise((r) => setImmediate(r));
  }

  /** The next batch to hand to ZeroMQ: an unconfirmed one to send (again), or a new one cut from the queue. */
  private nextBatch(): Batch | null {
    if (this.sendFrom < this.nextSeq) {
      for (const b of this.outbox) if (b.seq >= this.sendFrom) return b;
    }
    if (this.batches.events === 0 || this.outbox.length >= MAX_UNCONFIRMED_BATCHES) return null;
    // The notice of what a full queue dropped goes ahead of what came after the drops.
    const notice = this.takeGapNotice();
    const { body, count, knownValid } = notice ? oneEventBatch(notice.key, notice.json) : this.batches.take()!;
    const batch: Batch = { seq: this.nextSeq, count, body, knownValid };
    this.nextSeq += count;
    this.outbox.push(batch);
    this.outboxEvents += count;
    this.outboxBytes += batch.body.length;
    return batch;
  }

  private async pump(): Promise<void> {
    if (this.sending || this.closed) return;
    this.sending = true;
    try {
      for (;;) {
        if (this.rewind) {
          this.rewind = false;
          this.sendFrom = 0;
        }
        const batch = this.nextBatch();
        if (!batch) break;
        // Ask for a confirmation every few batches, and for the last one we have for now, so
        // that flush() and close() hear about everything.
        const confirm = ++this.unasked >= CONFIRM_EVERY || !this.moreToSend(batch);
        try {
          await this.socket.send([batchHeader(this.id, batch.seq, batch.count, confirm, batch.knownValid ? 'exact' : 'checked'), batch.body]);
        } catch {
          // EAGAIN: no core, or it is not keeping up. The batch stays first in line; try again shortly.
          this.retryTimer = setTimeout(() => {
            this.retryTimer = null;
            this.kick();
          }, RETRY_MS);
          return;
        }
        this.sendFrom = batch.seq + batch.count;
        if (confirm) this.unasked = 0;
      }
    } finally {
      this.sending = false;
    }
  }

  /** In a second, when nothing is queued then: the buffers kept for reuse go (an idle publisher holds none). */
  private releaseWhenIdle(): void {
    if (this.releaseTimer) return;
    this.releaseTimer = setTimeout(() => {
      this.releaseTimer = null;
      if (this.queued === 0) this.batches.releaseFree();
    }, RELEASE_IDLE_MS);
    this.releaseTimer.unref();
  }

  /** Whether anything waits to be sent after `batch`. */
  private moreToSend(batch: Batch): boolean {
    return this.batches.events > 0 || this.outbox[this.outbox.length - 1] !== batch;
  }

  /**
   * The core has events 0..next-1 of ours: those batches are done, and their buffers written into
   * again (ZeroMQ sent them without a copy, and the core had all of their bytes to confirm them).
   * A new 512 KiB buffer per batch made V8 count ~64 MiB of external memory a few times a second
   * and mark the whole heap each time: 7-11 full collections per million lines of `logyard
   * receive` in the syslog benchmark. The kept buffers go once nothing was queued for a second.
   */
  private confirmed(next: number): void {
    let done = 0;
    while (this.outbox.length > 0 && this.outbox[0].seq + this.outbox[0].count <= next) {
      const batch = this.outbox.shift()!;
      done += batch.count;
      this.outboxBytes -= batch.body.length;
      this.batches.recycle(batch);
    }
    if (done === 0) return;
    this.outboxEvents -= done;
    this.stats_.sent += done;
    if (this.queued === 0) {
      this.releaseWhenIdle();
      for (const w of this.drainWaiters.splice(0)) w();
    }
    this.kick();
  }

  private async readConfirmations(): Promise<void> {
    try {
      for await (const [frame] of this.socket) {
        const ack = parseAck(frame);
        if (ack?.kind === 'batch') this.confirmed(ack.next);
        else if (ack?.kind === 'end') this.endWaiter?.();
      }
    } catch {
      // closed
    }
  }

  /**
   * Tells the core we are done and waits for its answer: after it, nothing of ours is in flight,
   * so closing the connection cannot lose anything (and the core forgets our sequence).
   */
  private async sayGoodbye(timeoutMs: number): Promise<void> {
    if (timeoutMs <= 0 || !this.connected) return;
    let timer: NodeJS.Timeout | undefined;
    const answered = new Promise<void>((resolve) => {
      this.endWaiter = resolve;
      timer = setTimeout(resolve, timeoutMs);
    });
    try {
      await this.socket.send(endHeader(this.id, this.nextSeq));
      await answered;
    } catch {
      // No core to say goodbye to: everything was confirmed anyway.
    } finally {
      clearTimeout(timer);
      this.endWaiter = null;
    }
  }
}
