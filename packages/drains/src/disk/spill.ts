import { NOTICE_KEY } from '@logyard/bus';
import type { EventBatch, EventBuffer, Gap } from '../buffer.js';
import { DiskQueue, type DiskQueueOptions } from './queue.js';
import type { QueuedEvent } from './record.js';

/** Events written to the queue per append: big writes, a bounded amount in flight. */
const SPILL_EVENTS = 65_536;
const SPILL_BYTES = 8 * 1024 * 1024;
/** After a failed write, how long the drain stays in memory before trying the disk again. */
const DISK_RETRY_MS = 1_000;
/** With disk_sync=always: how long an event may wait in memory before it goes to disk. */
const ALWAYS_RESIDENCY_MS = 200;

/** Where a batch handed out by next() came from. */
export type BatchSource = 'memory' | 'disk';

/** What a drain's pump takes batches from: its buffer alone, or its buffer and disk queue. */
export interface Backlog {
  /** Events waiting, each once. */
  readonly length: number;
  /** The next batch to send (null: nothing after all). */
  next(maxEvents: number, maxBytes: number): Promise<{ batch: EventBatch; source: BatchSource } | null>;
  /** The first `count` events of the batch were delivered. */
  delivered(source: BatchSource, count: number): Promise<void>;
  /** What is left of the batch was not delivered: back in front. */
  undelivered(source: BatchSource, rest: EventBatch): Promise<void>;
}

/**
 * A drain's memory buffer in front of its disk queue (docs/drains.md, disk buffers). Events stay in memory while the
 * target keeps up; when half the buffer waits, the oldest go to the queue, and from then on
 * every event goes through it until it is empty again, so that none overtakes another. The
 * queue failing (ENOSPC, EIO, read-only) leaves the events in memory (`diskError` says why)
 * until a write works again.
 */
export class DiskSpill implements Backlog {
  private queue: DiskQueue | null = null;
  /** The queue's open (again, after a failed one). */
  private opening: Promise<void>;
  private spilling: Promise<void> | null = null;
  /** Events taken from memory whose append is in flight. */
  private spillingCount = 0;
  /** Set once events went to disk: memory follows them there until the queue is empty. */
  private throughDisk = false;
  /** The last disk failure (cleared by a write that works), and when writing was last tried. */
  private failure: string | null = null;
  private failedAt = 0;
  private closed = false;
  private readonly spillAt: number;
  private options!: DiskQueueOptions;
  private reopening = false;
  /** Events pushed so far, and how many had been pushed at the last residency check. */
  private pushed = 0;
  private pushedAtLastCheck = 0;
  private readonly residencyTimer: NodeJS.Timeout;
  /** The next spill moves events that waited half an interval: synced at once, not at the next tick. */
  private syncNextSpill = false;
  private readonly residencyMs: number;
  /**
   * The batch from memory being sent. A send that hangs (a target that stopped reading) would
   * keep it out of the queue past disk_sync: it is then copied to the queue's front, where it
   * is acknowledged if the send succeeds after all.
   */
  private inFlight: { batch: EventBatch; timer: NodeJS.Timeout; copy: Promise<boolean> | null } | null = null;
  /** What settling the last batch in flight found (delivered() and undelivered() both ask). */
  private lastCopied: EventBatch | null = null;

  constructor(
    private readonly memory: EventBuffer,
    /** How many events wait in memory before the oldest go to disk. */
    spillAt: number,
    private readonly dir: string,
    options: DiskQueueOptions,
    /** The in-band notice of a drop, written to disk in the drops' place among the events. */
    private readonly noticeOf: (gap: Gap) => string,
    /** Told when the drain has something new to send, or the disk's health changed. */
    private readonly onChange: () => void,
  ) {
    this.spillAt = Math.max(1, Math.floor(spillAt));
    this.opening = this.open(options);
    // An event must not wait in memory longer than disk_sync: a kill -9 would lose it. Checked
    // twice an interval, so it is written (and synced) within one.
    const interval = options.sync === 'always' ? ALWAYS_RESIDENCY_MS : Math.max(1, options.sync / 2);
    this.residencyMs = interval;
    this.residencyTimer = setInterval(() => this.spillOldEvents(), interval);
    this.residencyTimer.unref();
  }

  /**
   * Events that were already pushed at the last check and are still in memory have waited a
   * whole interval: memory goes to disk (the target is not keeping up).
   */
  private spillOldEvents(): void {
    const gone = this.pushed - this.memory.length; // sent, spilled or dropped since the start
    const waited = gone < this.pushedAtLastCheck;
    this.pushedAtLastCheck = this.pushed;
    if (waited && this.memory.length > 0) {
      this.throughDisk = true;
      this.syncNextSpill = true;
      this.maybeSpill();
    }
  }

  private open(options: DiskQueueOptions): Promise<void> {
    this.options = options;
    return DiskQueue.open(this.dir, options).then(
      (queue) => {
        this.queue = queue;
        this.failure = null;
        // A queue left by the last run goes first: newer events queue up behind it.
        this.throughDisk = queue.events > 0;
        this.onChange();
        this.maybeSpill();
      },
      (err: unknown) => this.fail(err),
    );
  }

  /** Why the disk is not used right now (`ENOSPC: ...`), or null. */
  get diskError(): string | null {
    return this.failure;
  }

  /** Every waiting event once: in memory, being written, on disk. */
  get length(): number {
    return this.memory.length + this.spillingCount + (this.queue?.events ?? 0);
  }

  get diskEvents(): number {
    return this.queue?.events ?? 0;
  }

  get diskBytes(): number {
    return this.queue?.bytes ?? 0;
  }

  /** Drops counted by the queue (`disk_full`, `corrupt`). */
  dropped(): Record<string, number> {
    return this.queue ? { ...this.queue.dropped } : { disk_full: 0, corrupt: 0 };
  }

  /** After each push (of `count` events). */
  afterPush(count = 1): void {
    this.pushed += count;
    this.maybeSpill();
  }

  /** Spills when half the buffer waits (or everything, while going through disk). */
  maybeSpill(): void {
    if (this.spilling || this.closed || this.reopening) return;
    if (!(this.throughDisk ? this.memory.length > 0 : this.memory.length >= this.spillAt)) return;
    if (this.failure !== null && Date.now() - this.failedAt < DISK_RETRY_MS) return;
    if (!this.queue) {
      // The queue could not be opened (e.g. a read-only state_dir): try again.
      if (this.failure === null) return; // still opening
      this.reopening = true;
      this.opening = this.open(this.options).finally(() => (this.reopening = false));
      return;
    }
    this.spilling = this.spill(this.queue).finally(() => {
      this.spilling = null;
      this.onChange();
      this.maybeSpill();
    });
  }

  /**
   * The next batch to send: from disk while anything waits there (it is older), else from
   * memory. Null when nothing waits. The queue's drops not told yet ride in front.
   */
  async next(maxEvents: number, maxBytes: number): Promise<{ batch: EventBatch; source: BatchSource } | null> {
    await this.opening;
    for (;;) {
      const queue = this.queue;
      if (queue && queue.events > 0) {
        const events = await queue.peek(maxEvents, maxBytes);
        if (events.length > 0) return { batch: withGaps(toBatch(events), queue.gaps.takeAll()), source: 'disk' };
      }
      // Events on their way to disk are older than those in memory: wait for them.
      if (this.spilling) {
        await this.spilling;
        continue;
      }
      this.throughDisk = false;
      if (this.memory.length === 0) {
        // The queue's drops, and those memory was handed (adopt: core_stopped, uri_changed).
        const gaps = [...(queue?.gaps.takeAll() ?? []), ...this.memory.takeAll().gaps];
        // Only drops to tell: they go out alone.
        return gaps.length > 0 ? { batch: { keys: [], jsons: [], gaps }, source: 'memory' } : null;
      }
      const batch = withGaps(this.memory.take(maxEvents, maxBytes), queue?.gaps.takeAll() ?? []);
      this.watchInFlight(batch);
      return { batch, source: 'memory' };
    }
  }

  /** The first `count` events of a batch from next() were delivered. */
  async delivered(source: BatchSource, count: number): Promise<void> {
    if (source === 'disk') {
      if (count > 0) await this.queue?.ack(count);
      return;
    }
    const flight = await this.settleInFlight();
    // Its copy at the queue's front goes too: the drop notices in front of it, then the events.
    if (flight && count > 0) await this.queue?.dropFront((flight.gaps?.length ?? 0) + count).catch((err: unknown) => this.fail(err));
  }

  /**
   * A batch from next() (what is left of it) was not delivered: it goes back in front. One
   * from memory goes back to memory, unless newer events went to disk meanwhile: then in
   * front of the queue.
   */
  async undelivered(source: BatchSource, rest: EventBatch): Promise<void> {
    if (source === 'disk') {
      for (const gap of rest.gaps ?? []) this.queue?.gaps.add(gap);
      return;
    }
    if (await this.settleInFlight()) return; // already at the queue's front
    const queue = this.queue;
    if (queue && (queue.events > 0 || this.spilling) && this.failure === null) {
      await this.spilling;
      try {
        await queue.prepend(this.recordsOf(rest));
        return;
      } catch (err) {
        this.fail(err);
      }
    }
    this.memory.unshift(rest);
  }

  /**
   * On stop (the drain's loop has ended): writes what memory holds to the queue, after what
   * is on its way there, and closes it. What cannot be written stays in memory.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.residencyTimer);
    await this.opening;
    await this.spilling;
    const queue = this.queue;
    if (!queue) return;
    while (this.memory.length > 0 || this.memory.untoldGaps().length > 0) {
      const batch = this.memory.take(SPILL_EVENTS, SPILL_BYTES);
      try {
        await queue.append(this.recordsOf(batch));
      } catch (err) {
        this.memory.unshift(batch);
        this.fail(err);
        break;
      }
    }
    await queue.close();
  }

  /** Deletes the queue (the drain was deleted); after close(). */
  async remove(): Promise<void> {
    await DiskQueue.remove(this.dir);
  }

  private watchInFlight(batch: EventBatch): void {
    const flight = { batch, copy: null as Promise<boolean> | null, timer: setTimeout(() => (flight.copy = this.copyInFlight(batch)), this.residencyMs) };
    flight.timer.unref();
    this.inFlight = flight;
    this.lastCopied = null;
  }

  /** Ends the watch of the batch in flight: the batch when it was copied to the queue, else null. */
  private async settleInFlight(): Promise<EventBatch | null> {
    const flight = this.inFlight;
    if (!flight) return this.lastCopied;
    this.inFlight = null;
    clearTimeout(flight.timer);
    this.lastCopied = (await flight.copy) ? flight.batch : null;
    return this.lastCopied;
  }

  private async copyInFlight(batch: EventBatch): Promise<boolean> {
    const queue = this.queue;
    if (!queue || this.failure !== null) return false;
    try {
      await queue.prepend(this.recordsOf(batch));
      await queue.flush();
      return true;
    } catch (err) {
      this.fail(err);
      return false;
    }
  }

  private async spill(queue: DiskQueue): Promise<void> {
    this.throughDisk = true;
    const batch = this.memory.take(SPILL_EVENTS, SPILL_BYTES);
    this.spillingCount = batch.keys.length;
    const sync = this.syncNextSpill;
    this.syncNextSpill = false;
    try {
      await queue.append(this.recordsOf(batch));
      this.spillingCount = 0; // counted by the queue from here: each event once
      // Synced beside the next spills, not before them: a slow datasync must not stall them.
      if (sync) void queue.flush().catch((err: unknown) => this.fail(err));
      if (this.failure !== null) {
        this.failure = null;
        this.onChange();
      }
    } catch (err) {
      this.memory.unshift(batch);
      this.fail(err);
    } finally {
      this.spillingCount = 0;
    }
  }

  /** A batch as records, its drop notices first (they keep their place among the events). */
  private recordsOf(batch: EventBatch): QueuedEvent[] {
    const records: QueuedEvent[] = (batch.gaps ?? []).map((gap) => ({ key: NOTICE_KEY, json: this.noticeOf(gap) }));
    for (let i = 0; i < batch.keys.length; i++) records.push({ key: batch.keys[i], json: batch.jsons[i] });
    return records;
  }

  private fail(err: unknown): void {
    const code = (err as NodeJS.ErrnoException).code;
    const message = err instanceof Error ? err.message : String(err);
    const failure = code && !message.startsWith(code) ? `${code}: ${message}` : message;
    this.failedAt = Date.now();
    if (failure === this.failure) return;
    this.failure = failure;
    this.onChange();
  }
}

function toBatch(events: QueuedEvent[]): EventBatch {
  const keys: string[] = [];
  const jsons: string[] = [];
  for (const event of events) {
    keys.push(event.key);
    jsons.push(event.json);
  }
  return { keys, jsons };
}

function withGaps(batch: EventBatch, gaps: Gap[]): EventBatch {
  if (gaps.length === 0) return batch;
  return { ...batch, gaps: [...gaps, ...(batch.gaps ?? [])] };
}
