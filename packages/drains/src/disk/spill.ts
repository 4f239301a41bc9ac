import { NOTICE_KEY, type WireRun } from '@logyard/bus';
import type { EventBatch, EventBuffer, Gap } from '../buffer.js';
import { PendingRecords, type Chunk } from './pending.js';
import { DiskQueue, type DiskQueueOptions, type RecordPart } from './queue.js';
import { encodeRecords, type QueuedEvent } from './record.js';

/**
 * Encoded events that may wait for the disk: this many bytes (128 chunks, ~140,000 events of 200
 * bytes, 0.4 s at 340,000 events/s), or `buffer` events when that is more. Beyond both, the oldest
 * chunk not being written is dropped (`buffer_full`). Only a disk (or a thread pool starved of CPU)
 * slower than the events reaches it: at 16 MiB, a spill at load average 50 on 2 cores dropped
 * 29,818 of 3,000,000 in one bench run (the build before these chunks dropped 235,875 there).
 */
const PENDING_MAX_BYTES = 32 * 1024 * 1024;
/**
 * Events that stopped coming: the chunk being filled is written when no event came for this long,
 * not at the next residency tick (a burst's last events on disk within ~10-20 ms, not 500).
 */
const QUIET_MS = 10;
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
 * A drain's memory buffer in front of its disk queue (docs/drains.md, disk buffers). Events stay
 * in memory while the target keeps up; when half the buffer waits (or an event waited half of
 * disk_sync), memory goes to the queue, and from then on every event goes through it until it is
 * empty again, so that none overtakes another. On that way each event is encoded as a record
 * when it is pushed (no string of it is kept) into chunks written one call each (pending.ts).
 * The queue failing (ENOSPC, EIO, read-only) puts the events back in memory (`diskError` says
 * why) until a write works again.
 */
export class DiskSpill implements Backlog {
  private queue: DiskQueue | null = null;
  /** The queue's open (again, after a failed one). */
  private opening: Promise<void>;
  /** Events on their way to the queue, encoded, oldest first. */
  private readonly pending = new PendingRecords();
  /** Writes the sealed chunks of `pending` in order; null while none is being written. */
  private writing: Promise<void> | null = null;
  /** Set once events went to disk: new ones follow them there until the queue is empty. */
  private throughDisk = false;
  /** The last disk failure (cleared by a write that works), and when writing was last tried. */
  private failure: string | null = null;
  private failedAt = 0;
  /** The queue is closing: what comes now stays in memory. */
  private finished = false;
  private closing: Promise<void> | null = null;
  private readonly spillAt: number;
  private options!: DiskQueueOptions;
  private reopening = false;
  /** Events pushed so far, and how many had been pushed at the last residency check. */
  private pushed = 0;
  private pushedAtLastCheck = 0;
  private readonly residencyTimer: NodeJS.Timeout;
  /** A chunk sealed because its events waited half an interval: synced once written, not at the next tick. */
  private syncAfter: Chunk | null = null;
  private readonly residencyMs: number;
  /** Chunks (the oldest) handed to the queue and not written yet: none of them may be dropped. */
  private chunksInWrite = 0;
  /** Checks every QUIET_MS while records wait in the chunk being filled; `pushed` at the last check. */
  private quietTimer: NodeJS.Timeout | null = null;
  private pushedAtQuietCheck = 0;
  /** Events dropped from `pending` because the disk fell behind (buffer_full). */
  private droppedPending = 0;
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
   * whole interval: memory goes to disk (the target is not keeping up). Records waiting for
   * their chunk to fill are written.
   */
  private spillOldEvents(): void {
    const gone = this.pushed - this.memory.length; // sent, spilled or dropped since the start
    const waited = gone < this.pushedAtLastCheck;
    this.pushedAtLastCheck = this.pushed;
    if (waited && this.memory.length > 0) {
      this.throughDisk = true;
      this.maybeSpill();
    }
    if (this.pending.fillingRecords > 0 && !this.finished) {
      this.pending.seal();
      this.syncAfter = this.pending.newest() ?? null;
      this.writePending();
    }
  }

  private open(options: DiskQueueOptions): Promise<void> {
    this.options = options;
    return DiskQueue.open(this.dir, options).then(
      (queue) => {
        this.queue = queue;
        this.failure = null;
        // A queue left by the last run goes first: newer events queue up behind it.
        if (queue.events > 0) this.throughDisk = true;
        this.onChange();
        this.maybeSpill();
      },
      (err: unknown) => {
        this.fail(err);
        this.backToMemory(); // what waited for the queue to open
      },
    );
  }

  /** Why the disk is not used right now (`ENOSPC: ...`), or null. */
  get diskError(): string | null {
    return this.failure;
  }

  /** Every waiting event once: in memory, on its way to disk, on disk. */
  get length(): number {
    return this.memory.length + this.pending.records + (this.queue?.events ?? 0);
  }

  /** Events held in memory (a kill -9 would lose them): in the buffer and on their way to disk. */
  get inMemory(): number {
    return this.memory.length + this.pending.records;
  }

  get diskEvents(): number {
    return this.queue?.events ?? 0;
  }

  get diskBytes(): number {
    return this.queue?.bytes ?? 0;
  }

  /** Drops counted here (`disk_full`, `corrupt`; `buffer_full` while the disk fell behind). */
  dropped(): Record<string, number> {
    return { buffer_full: this.droppedPending, ...(this.queue ? this.queue.dropped : { disk_full: 0, corrupt: 0 }) };
  }

  /** Hot path: queues one event, in memory or (going through disk) encoded for the queue. */
  push(key: string, json: string): void {
    if (this.toDisk(1)) {
      this.pending.add(key, json);
      this.afterPending();
    } else {
      this.memory.push(key, json);
      this.maybeSpill();
    }
  }

  /** Hot path: queues `count` events of a run from `first` (bus decodeWire), as push() does. */
  pushRun(run: WireRun, first: number, count: number): void {
    if (this.toDisk(count)) {
      this.pending.addRun(run, first, count);
      this.afterPending();
    } else {
      this.memory.pushRun(run, first, count);
      this.maybeSpill();
    }
  }

  /**
   * Whether `count` events coming now go to the queue. Memory goes first when they would reach
   * half the buffer (a run may be longer than the room left in memory): nothing dropped for it.
   */
  private toDisk(count: number): boolean {
    this.pushed += count;
    if (!this.throughDisk && this.memory.length + count >= this.spillAt) {
      this.throughDisk = true;
      this.maybeSpill();
    }
    // Memory empties into the queue first (maybeSpill) when it holds anything: it is older.
    return this.throughDisk && this.failure === null && !this.finished && this.memory.length === 0 && !this.memory.hasUntold;
  }

  /** After events went to `pending`: full chunks are written, and a lagging disk bounded. */
  private afterPending(): void {
    if (this.pending.chunkCount > 1) {
      if (this.pending.heldBytes > PENDING_MAX_BYTES && this.pending.records > this.memory.capacity) this.dropBehind();
      this.writePending();
    }
    if (this.quietTimer === null) this.watchForQuiet();
  }

  private watchForQuiet(): void {
    this.pushedAtQuietCheck = this.pushed;
    this.quietTimer = setTimeout(() => {
      this.quietTimer = null;
      if (this.pending.fillingRecords === 0 || this.finished) return;
      if (this.pushed !== this.pushedAtQuietCheck) return this.watchForQuiet(); // still coming
      this.pending.seal();
      this.writePending();
    }, QUIET_MS);
    this.quietTimer.unref();
  }

  /** Goes through disk when half the buffer waits (or anything, while going through disk). */
  private maybeSpill(): void {
    if (this.finished || this.reopening) return;
    if (!(this.throughDisk ? this.memory.length > 0 || this.memory.hasUntold : this.memory.length >= this.spillAt)) return;
    if (this.failure !== null) {
      if (Date.now() - this.failedAt < DISK_RETRY_MS) return;
      this.failedAt = Date.now(); // tried now: the next try in a second, whatever this one finds
    }
    if (!this.queue && this.failure !== null) {
      // The queue could not be opened (e.g. a read-only state_dir): try again.
      this.reopening = true;
      this.opening = this.open(this.options).finally(() => (this.reopening = false));
      return;
    }
    // Still opening: the chunks wait for it (writeChunks).
    this.moveMemoryToPending();
    // After a failure, a write tells whether the disk works again.
    if (this.failure !== null) this.pending.seal();
    this.writePending();
  }

  /**
   * The next batch to send: from disk while anything waits there or on its way there (it is
   * older), else from memory. Null when nothing waits. The queue's drops not told yet ride in front.
   */
  async next(maxEvents: number, maxBytes: number): Promise<{ batch: EventBatch; source: BatchSource } | null> {
    await this.opening;
    for (;;) {
      const queue = this.queue;
      if (queue && queue.events > 0) {
        const events = await queue.peek(maxEvents, maxBytes);
        if (events.length > 0) return { batch: withGaps(toBatch(events), queue.gaps.takeAll()), source: 'disk' };
      }
      // Events on their way to disk are older than those in memory: written first, then read.
      if (this.pending.records > 0 || this.writing) {
        await this.writeAllPending();
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
    if (queue && (queue.events > 0 || this.pending.records > 0 || this.writing) && this.failure === null) {
      await this.writeAllPending();
      if (this.failure === null) {
        try {
          await queue.prepend(this.recordsOf(rest));
          return;
        } catch (err) {
          this.fail(err);
        }
      }
    }
    this.memory.unshift(rest);
  }

  /**
   * On stop (the drain's loop has ended): writes what memory holds to the queue, after what
   * is on its way there, and closes it. What cannot be written stays in memory.
   */
  close(): Promise<void> {
    this.closing ??= this.finish();
    return this.closing;
  }

  private async finish(): Promise<void> {
    clearInterval(this.residencyTimer);
    if (this.quietTimer) clearTimeout(this.quietTimer);
    // What comes from now on stays in memory: the drain hands it to the one after it (release()).
    this.finished = true;
    await this.opening;
    await this.writing;
    const queue = this.queue;
    if (!queue) return this.backToMemory();
    this.moveMemoryToPending();
    await this.writeAllPending(); // or back in memory
    await queue.close();
  }

  /** Deletes the queue (the drain was deleted); after close(). */
  async remove(): Promise<void> {
    await DiskQueue.remove(this.dir);
  }

  /** Memory's events (and drops, as notices) go to the queue, after what is on its way there. */
  private moveMemoryToPending(): void {
    this.throughDisk = true;
    const batch = this.memory.take(Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER);
    this.pending.addBatch(batch, (gap) => ({ key: NOTICE_KEY, json: this.noticeOf(gap) }));
  }

  /** Starts writing the sealed chunks, unless that is under way. */
  private writePending(): void {
    if (this.writing || !this.pending.hasSealed) return;
    this.writing = this.writeChunks().finally(() => {
      this.writing = null;
      this.onChange();
      this.maybeSpill();
      this.writePending();
    });
  }

  /** Writes everything on its way to disk, the chunk being filled too (or puts it back in memory). */
  private async writeAllPending(): Promise<void> {
    this.pending.seal();
    this.writePending();
    while (this.writing) await this.writing;
  }

  /**
   * Writes the sealed chunks in order, all that are sealed with one call (writev: as many as the
   * event loop's turns fill, however few those are); a failure puts what is left back in memory.
   */
  private async writeChunks(): Promise<void> {
    await this.opening;
    for (let chunks = this.pending.sealedChunks(); chunks.length > 0; chunks = this.pending.sealedChunks()) {
      const queue = this.queue;
      if (!queue) return this.backToMemory(); // could not be opened (`failure` says why)
      // A drop while the disk fell behind is told in its place: a notice record before the chunk.
      const parts: (RecordPart & { chunk?: Chunk; noticeOf?: Chunk })[] = [];
      for (const chunk of chunks) {
        if (chunk.gapBefore) parts.push({ data: encodeRecords([{ key: NOTICE_KEY, json: this.noticeOf(chunk.gapBefore) }]), records: 1, noticeOf: chunk });
        parts.push({ data: chunk.data.subarray(0, chunk.bytes), records: chunk.records, chunk });
      }
      this.chunksInWrite = chunks.length;
      let done = 0;
      let sync = false;
      try {
        await queue.appendRecords(parts, (written) => {
          for (const part of parts.slice(done, done + written)) {
            if (part.noticeOf) part.noticeOf.gapBefore = null;
            if (part.chunk) {
              this.pending.shift(); // counted by the queue from here: each event once
              this.chunksInWrite--;
              if (part.chunk === this.syncAfter) [sync, this.syncAfter] = [true, null];
            }
          }
          done += written;
        });
      } catch (err) {
        this.fail(err);
        return this.backToMemory();
      } finally {
        this.chunksInWrite = 0;
      }
      if (this.failure !== null) {
        this.failure = null;
        this.onChange();
      }
      // Synced beside the next writes, not before them: a slow datasync must not stall them.
      if (sync) void queue.flush().catch((err: unknown) => this.fail(err));
    }
  }

  /** The disk failed: what was on its way there waits in memory, in front of anything newer. */
  private backToMemory(): void {
    this.syncAfter = null;
    const batch = this.pending.takeAll();
    if (batch.keys.length > 0 || batch.gaps) this.memory.unshift(batch);
  }

  /** The disk falls behind: the oldest chunks not being written go (buffer_full, told in their place). */
  private dropBehind(): void {
    while (this.pending.heldBytes > PENDING_MAX_BYTES && this.pending.records > this.memory.capacity) {
      const dropped = this.pending.dropOldest(this.chunksInWrite);
      if (dropped === 0) return;
      this.droppedPending += dropped;
    }
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
