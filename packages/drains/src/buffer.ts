import { NOTICE_KEY, nowUnix, type WireRun } from '@logyard/bus';

/** Events dropped for one reason, not yet told in-band. */
export interface Gap {
  /** The counter they are counted under (`buffer_full`, `core_stopped`, `uri_changed`, ...). */
  reason: string;
  count: number;
  /** Unix time (seconds) of the first of those drops. */
  since: number;
}

export interface EventBatch {
  keys: string[];
  jsons: string[];
  /** Set when events were dropped before these: the drain announces them ahead of them. */
  gaps?: Gap[];
}

/**
 * What a drain holds when it stops: the events waiting, oldest first, and the drops it has
 * counted but not told yet. Handed to the drain that replaces it, or counted as lost.
 */
export interface HeldEvents {
  keys: string[];
  jsons: string[];
  gaps: Gap[];
}

/** Drops not told yet, by reason, in the order they began; merging keeps the earliest `since`. */
export class UntoldGaps {
  private readonly gaps = new Map<string, Gap>();

  get size(): number {
    return this.gaps.size;
  }

  add(gap: Gap): void {
    const pending = this.gaps.get(gap.reason);
    if (pending) {
      pending.count += gap.count;
      pending.since = Math.min(pending.since, gap.since);
    } else {
      this.gaps.set(gap.reason, { ...gap });
    }
  }

  /** A drop happening now (the hot path of a full buffer: no allocation while a gap is open). */
  addNow(reason: string, count: number): void {
    const pending = this.gaps.get(reason);
    if (pending) pending.count += count;
    else this.gaps.set(reason, { reason, count, since: nowUnix() });
  }

  /** A copy of the gaps. */
  list(): Gap[] {
    return [...this.gaps.values()].map((g) => ({ ...g }));
  }

  /** The gaps, leaving none. */
  takeAll(): Gap[] {
    const gaps = [...this.gaps.values()];
    this.gaps.clear();
    return gaps;
  }
}

/**
 * Slots allocated by the first event; the ring doubles, up to `capacity`, only when that many events
 * wait. Small, since most drains of a node with many never hold more than a few events: a busy
 * drain grows once. Until its first event a buffer has none of its own (NO_SLOTS, never written):
 * a node's drains that nothing matches cost no ring.
 */
const INITIAL_SLOTS = 64;
const NO_SLOTS = new Int32Array(0);
const NO_MARKS = new Uint8Array(0);
/**
 * Events are kept as bytes in chunks of the buffer's own, one after another. Chunks grow with
 * what the buffer holds (4 KiB, then twice the last one): a drain holding a few events costs a few
 * KiB. From a quarter of a block on, chunks and the batches taken as bytes are blocks of
 * BLOCK_BYTES from a pool every buffer shares, so a busy drain reuses the same memory instead of
 * making garbage for the GC. An event larger than a block gets a chunk of its own.
 */
const FIRST_CHUNK_BYTES = 4 * 1024;
const BLOCK_BYTES = 512 * 1024;
/** Free blocks kept for reuse, at most (4 MiB): a drain that went quiet gives its blocks back. */
const POOLED_BLOCKS = 8;
const pool: Buffer[] = [];

/** Memory for `bytes`: a block of the pool for a large request, else exactly what is asked. */
export function takeBlock(bytes: number): Buffer {
  if (bytes > BLOCK_BYTES || bytes < BLOCK_BYTES / 4) return Buffer.allocUnsafeSlow(bytes);
  return pool.pop() ?? Buffer.allocUnsafeSlow(BLOCK_BYTES);
}

/** Back to the pool: only whole blocks (never a view into one that something else still uses). */
export function giveBlock(bytes: Buffer): void {
  if (bytes.length === BLOCK_BYTES && bytes.byteOffset === 0 && bytes.buffer.byteLength === BLOCK_BYTES && pool.length < POOLED_BLOCKS) pool.push(bytes);
}

const SPACE = 0x20;
const NEWLINE = 0x0a;
/** countFitting's bound when there is none (a constant: Number.MAX_SAFE_INTEGER looked up there deoptimized it once). */
const NO_LIMIT = Number.MAX_SAFE_INTEGER;
/** Bytes of a batch's block beyond what its output was reckoned to need (takeBytes with a template's room). */
export const OUT_SLACK = 64;
const NOTICE_KEY_BYTES = Buffer.from(NOTICE_KEY);
/** Called unbound: looking the method up on the block for each event cost about 4 ns of 23 a call. */
const copyWithin = Uint8Array.prototype.copyWithin;

/** Bytes of the buffer's storage: `bytes[read, filled)` hold whole event lines. */
interface Chunk {
  bytes: Buffer;
  read: number;
  filled: number;
}

/**
 * A batch taken as bytes (takeBytes): the events' lines `<key> <event JSON>\n` one after another
 * in `wire`, and what goes out for them in `out` (their JSON lines, or the wire lines themselves
 * for `raw`). The batch owns its bytes: a failed send puts it back as it is (unshiftBytes).
 */
export interface WireBatch {
  /** The memory both live in. */
  block: Buffer;
  wire: Buffer;
  out: Buffer;
  /** Bytes of each event's line, and of its key. */
  lineBytes: Int32Array;
  keyBytes: Int32Array;
  /** Per event: 1 when it is known to be valid JSON as JSON.stringify writes it (see EventBuffer), else 0. */
  knownValid: Uint8Array;
  count: number;
  /** Of the events, those that are notices (key `logyard.notice`): not counted as sent. */
  notices: number;
  gaps?: Gap[];
}

/**
 * A drain's bounded FIFO of events, kept as their wire lines `<key> <event JSON>\n` in byte
 * chunks of its own (no string per event, nothing of the core's incoming batch kept alive).
 * When full, a push drops the oldest event and records the gap. Events come in as runs of a
 * batch (pushRun: one copy per run) or one by one as strings (push); they leave as bytes
 * (takeBytes: what a `json` or `raw` stream drain writes as it is) or as strings (take, for
 * templates, schemes that need fields, the disk queue). Drops for other reasons (recordGap) wait
 * here too, so that the notice telling them travels with the next batch and goes back in front
 * when a send fails.
 */
export class EventBuffer {
  readonly capacity: number;
  /** Per event (a ring at `head`): bytes of its line, and of its key. */
  private lineBytes: Int32Array;
  private keyBytes: Int32Array;
  /**
   * Per event: 1 when its JSON is known to be valid as JSON.stringify writes it (a run marked
   * knownValid: written by this process's own encoder), so that a template finds its fields
   * without checking the rest; 0 for everything else (publish.sock's lines, events given as
   * strings), which is checked as it always was.
   */
  private knownValid: Uint8Array;
  private head = 0;
  private size = 0;
  /**
   * The storage, oldest first: events are read at chunks[0].read, written at the last chunk's
   * `filled`. Always this array, emptied when the buffer is (a new empty one, an array of small
   * integers to V8 until a chunk goes in, deoptimized pushRun's compiled code the first time).
   */
  private readonly chunks: Chunk[] = [];
  /** Drops not told yet, by reason, in the order they began. */
  private readonly untold = new UntoldGaps();
  private readonly droppedBy: Record<string, number> = {};

  constructor(capacity: number) {
    if (!Number.isSafeInteger(capacity) || capacity < 1) throw new RangeError(`buffer capacity must be a positive integer, got ${capacity}`);
    this.capacity = capacity;
    this.lineBytes = NO_SLOTS;
    this.keyBytes = NO_SLOTS;
    this.knownValid = NO_MARKS;
  }

  /** Events waiting. */
  get length(): number {
    return this.size;
  }

  /** Whether drops wait to be told (with the next batch, or alone when no event waits). */
  get hasUntold(): boolean {
    return this.untold.size > 0;
  }

  /** Events dropped because the buffer was full, since it was created. */
  get dropped(): number {
    return this.droppedBy.buffer_full ?? 0;
  }

  /** Every drop counted here since the buffer was created, by reason. */
  droppedByReason(): Record<string, number> {
    return { ...this.droppedBy };
  }

  /** The drops counted and not told yet (a copy). */
  untoldGaps(): Gap[] {
    return this.untold.list();
  }

  /** Queues one event given as strings. */
  push(key: string, json: string): void {
    this.makeRoom(1);
    // At most 3 bytes a UTF-16 unit; counted exactly only for large events.
    let most = (key.length + json.length) * 3 + 2;
    if (most > BLOCK_BYTES) most = Buffer.byteLength(key) + Buffer.byteLength(json) + 2;
    const chunk = this.writable(most);
    const at = chunk.filled;
    const keyBytes = writeLine(chunk, key, json);
    this.addEvent(chunk.filled - at, keyBytes);
  }

  /**
   * Queues `count` lines of a run (bus WireRun) from its line `first` on, with one copy. Lines that
   * do not fit drop the oldest events (or, for a run larger than the buffer, its own first lines).
   */
  pushRun(run: WireRun, first = 0, count = run.count - first): void {
    if (count <= 0) return;
    if (count > this.capacity) {
      // A run larger than the whole buffer: its own first lines are the oldest.
      this.countDrop('buffer_full', count - this.capacity);
      first += count - this.capacity;
      count = this.capacity;
    }
    this.makeRoom(count);
    if (this.size + count > this.lineBytes.length) this.grow(this.size + count);
    const { ends, keys, frame } = run;
    const mark = run.knownValid === true ? 1 : 0;
    const ringLines = this.lineBytes;
    const ringKeys = this.keyBytes;
    const ringMarks = this.knownValid;
    const slots = ringLines.length;
    // % rather than a subtraction only when the ring wraps, which V8 had not seen run before it
    // compiled this and deoptimized it for (once per core, a compile of pushRun more).
    let at = (this.head + this.size) % slots;
    // Indices into the run's `ends` and `keys`, which hold the lines of its whole batch.
    first += run.first;
    let from = first === run.first ? run.start : ends[first - 1];
    const last = first + count;
    // As many whole lines as the chunk has room for, with one copy; then the next chunk.
    for (let i = first; i < last; ) {
      const chunk = this.writable(ends[i] - from);
      const room = chunk.filled + (chunk.bytes.length - chunk.filled);
      let to = from;
      let j = i;
      for (; j < last && ends[j] - from + chunk.filled <= room; j++) {
        ringLines[at] = ends[j] - to;
        ringKeys[at] = keys[j].keyBytes;
        ringMarks[at] = mark;
        to = ends[j];
        if (++at === slots) at = 0;
      }
      frame.copy(chunk.bytes, chunk.filled, from, to);
      chunk.filled += to - from;
      this.size += j - i;
      from = to;
      i = j;
    }
  }

  /** Counts a drop (under its reason) that the next batch taken announces. */
  recordGap(gap: Gap): void {
    this.droppedBy[gap.reason] = (this.droppedBy[gap.reason] ?? 0) + gap.count;
    this.untold.add(gap);
  }

  /**
   * Removes the oldest events as strings: at most `maxEvents`, and no more than `maxBytes` of
   * JSON unless a single event is larger. Carries the untold gaps.
   */
  take(maxEvents: number, maxBytes: number): EventBatch {
    const count = this.countFitting(maxEvents, maxBytes);
    const keys: string[] = new Array(count);
    const jsons: string[] = new Array(count);
    for (let i = 0; i < count; i++) {
      const chunk = this.readable();
      const at = chunk.read;
      const line = this.lineBytes[this.head];
      const keyEnd = at + this.keyBytes[this.head];
      keys[i] = chunk.bytes.toString('utf8', at, keyEnd);
      jsons[i] = chunk.bytes.toString('utf8', keyEnd + 1, at + line - 1);
      this.consume(chunk, line);
    }
    const batch: EventBatch = { keys, jsons };
    if (this.untold.size > 0) batch.gaps = this.untold.takeAll();
    this.afterTake();
    return batch;
  }

  /**
   * Removes the oldest events as bytes: at most `maxEvents`, and as many as fit in one block of
   * the pool with their output (unless a single event is larger): their wire lines, and their
   * JSON lines (`json: true`, what a `json` drain writes) built beside them in the same memory.
   * `roomPerEvent` (a template's, see ByteTemplate.format): the block keeps room after the lines
   * for as many bytes as they have and that many more per event, where the output is written.
   */
  takeBytes(maxEvents: number, json: boolean, roomPerEvent = -1): WireBatch {
    const room = roomPerEvent < 0 ? 0 : roomPerEvent * maxEvents + OUT_SLACK;
    const count = this.countFitting(maxEvents, Number.MAX_SAFE_INTEGER, (BLOCK_BYTES - room) / 2);
    const lineBytes = new Int32Array(count);
    const keyBytes = new Int32Array(count);
    const knownValid = new Uint8Array(count);
    const ringLines = this.lineBytes;
    const ringKeys = this.keyBytes;
    const ringMarks = this.knownValid;
    const slots = ringLines.length;
    let wireSize = 0;
    let keysSize = 0;
    for (let i = 0, at = this.head; i < count; i++) {
      const line = ringLines[at];
      const key = ringKeys[at];
      lineBytes[i] = line;
      keyBytes[i] = key;
      knownValid[i] = ringMarks[at];
      wireSize += line;
      keysSize += key + 1;
      if (++at === slots) at = 0;
    }
    const block = takeBlock(json ? 2 * wireSize - keysSize : roomPerEvent < 0 ? wireSize : 2 * wireSize + roomPerEvent * count + OUT_SLACK);
    const bytes = block;
    // The lines are consecutive in the chunks: one copy per chunk.
    let filled = 0;
    let left = wireSize;
    while (left > 0) {
      const chunk = this.chunks[0];
      const n = Math.min(left, chunk.filled - chunk.read);
      chunk.bytes.copy(bytes, filled, chunk.read, chunk.read + n);
      filled += n;
      left -= n;
      chunk.read += n;
      if (chunk.read === chunk.filled && this.chunks.length > 1) this.dropFirstChunk();
    }
    this.head = (this.head + count) % slots;
    this.size -= count;
    const wire = bytes.subarray(0, wireSize);
    // One pass: the notices counted and, for `json`, each line without its key copied after the
    // lines (inside one block of memory: no allocation per event).
    let notices = 0;
    let to = wireSize;
    for (let i = 0, at = 0; i < count; i++) {
      const line = lineBytes[i];
      const key = keyBytes[i];
      if (key === NOTICE_KEY_BYTES.length && isNoticeKey(bytes, at)) notices++;
      if (json) {
        copyWithin.call(bytes, to, at + key + 1, at + line);
        to += line - key - 1;
      }
      at += line;
    }
    const out = json ? bytes.subarray(wireSize, to) : wire;
    const batch: WireBatch = { block, wire, out, lineBytes, keyBytes, knownValid, count, notices };
    if (this.untold.size > 0) batch.gaps = this.untold.takeAll();
    this.afterTake();
    return batch;
  }

  /** After a batch taken as bytes was sent: its memory goes back to the pool. */
  static sent(batch: WireBatch): void {
    giveBlock(batch.block);
  }

  /** Empties the buffer: everything waiting and every untold gap, for the drain that comes next. */
  takeAll(): HeldEvents {
    const { keys, jsons, gaps } = this.take(Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER);
    return { keys, jsons, gaps: gaps ?? [] };
  }

  /**
   * Puts a batch that could not be sent back in front, with its gaps. The batch's events are
   * the oldest, so those that no longer fit are dropped (and counted) first.
   */
  unshift(batch: EventBatch): void {
    for (const gap of batch.gaps ?? []) this.untold.add(gap);
    const returned = batch.keys.length;
    const fitting = this.fitting(returned);
    if (fitting === 0) return;
    let bytes = 0;
    for (let i = returned - fitting; i < returned; i++) bytes += Buffer.byteLength(batch.keys[i]) + Buffer.byteLength(batch.jsons[i]) + 2;
    const chunk: Chunk = { bytes: Buffer.allocUnsafeSlow(bytes), read: 0, filled: 0 };
    const lines = new Int32Array(fitting);
    const keys = new Int32Array(fitting);
    for (let i = 0; i < fitting; i++) {
      const at = chunk.filled;
      keys[i] = writeLine(chunk, batch.keys[returned - fitting + i], batch.jsons[returned - fitting + i]);
      lines[i] = chunk.filled - at;
    }
    this.putInFront(chunk, lines, keys, new Uint8Array(fitting), 0, fitting);
  }

  /** unshift for a batch taken as bytes: its events from `delivered` on go back in front. */
  unshiftBytes(batch: WireBatch, delivered = 0): void {
    for (const gap of batch.gaps ?? []) this.untold.add(gap);
    const returned = batch.count - delivered;
    const fitting = this.fitting(returned);
    if (fitting === 0) return;
    let from = 0;
    for (let i = 0; i < batch.count - fitting; i++) from += batch.lineBytes[i];
    const bytes = batch.wire.subarray(from);
    this.putInFront({ bytes, read: 0, filled: bytes.length }, batch.lineBytes, batch.keyBytes, batch.knownValid, batch.count - fitting, fitting);
  }

  /** When nothing waits: lets go of the storage (a drain that went quiet holds no memory). */
  trim(): void {
    if (this.size > 0) return;
    for (const chunk of this.chunks) giveBlock(chunk.bytes);
    // Emptied, not replaced (as in afterTake): see `chunks`.
    this.chunks.length = 0;
  }

  /** Of `returned` events going back in front, how many fit; the others are counted dropped. */
  private fitting(returned: number): number {
    const fitting = Math.min(returned, this.capacity - this.size);
    if (fitting < returned) this.countDrop('buffer_full', returned - fitting);
    return Math.max(0, fitting);
  }

  private putInFront(chunk: Chunk, lines: Int32Array, keys: Int32Array, marks: Uint8Array, first: number, count: number): void {
    if (this.size + count > this.lineBytes.length) this.grow(this.size + count);
    const slots = this.lineBytes.length;
    for (let i = first + count - 1; i >= first; i--) {
      this.head = this.head === 0 ? slots - 1 : this.head - 1;
      this.lineBytes[this.head] = lines[i];
      this.keyBytes[this.head] = keys[i];
      this.knownValid[this.head] = marks[i];
    }
    this.size += count;
    // Before the chunk being read: what was read of that one stays read.
    this.chunks.unshift(chunk);
  }

  /**
   * How many of the oldest events a take with these bounds (of their JSON, and of their lines)
   * removes (at least one when any wait).
   */
  private countFitting(maxEvents: number, maxBytes: number, maxLineBytes = NO_LIMIT): number {
    const slots = this.lineBytes.length;
    let count = 0;
    let bytes = 0;
    let lineBytes = 0;
    for (let at = this.head; count < this.size && count < maxEvents; count++) {
      const line = this.lineBytes[at];
      const jsonBytes = line - this.keyBytes[at] - 2;
      if (count > 0 && (bytes + jsonBytes > maxBytes || lineBytes + line > maxLineBytes)) break;
      bytes += jsonBytes;
      lineBytes += line;
      if (++at === slots) at = 0;
    }
    return count;
  }

  /** Makes room for `count` more events by dropping the oldest; returns how many had to go. */
  private makeRoom(count: number): number {
    const overflow = this.size + count - this.capacity;
    if (overflow <= 0) return 0;
    const dropped = Math.min(overflow, this.size);
    for (let i = 0; i < dropped; i++) this.consume(this.readable(), this.lineBytes[this.head]);
    this.countDrop('buffer_full', overflow);
    if (this.size === 0) this.afterTake();
    return overflow;
  }

  /** The chunk the oldest event is in. */
  private readable(): Chunk {
    let chunk = this.chunks[0];
    while (chunk.read === chunk.filled) {
      this.dropFirstChunk();
      chunk = this.chunks[0];
    }
    return chunk;
  }

  private dropFirstChunk(): void {
    giveBlock(this.chunks.shift()!.bytes);
  }

  /** The oldest event (of `line` bytes, in `chunk`) leaves. */
  private consume(chunk: Chunk, line: number): void {
    chunk.read += line;
    if (chunk.read === chunk.filled && this.chunks.length > 1) this.dropFirstChunk();
    if (++this.head === this.lineBytes.length) this.head = 0;
    this.size--;
  }

  /** Once empty, the last chunk is written from its start again. */
  private afterTake(): void {
    if (this.size > 0) return;
    const last = this.chunks[this.chunks.length - 1];
    this.chunks.length = 0;
    if (last) {
      last.read = last.filled = 0;
      this.chunks.push(last);
    }
  }

  /** The chunk to write `bytes` more into (a new one when the last has no room). */
  private writable(bytes: number): Chunk {
    const last = this.chunks[this.chunks.length - 1];
    if (last !== undefined && last.bytes.length - last.filled >= bytes) return last;
    const size = Math.max(bytes, last === undefined ? FIRST_CHUNK_BYTES : Math.min(BLOCK_BYTES, last.bytes.length * 2));
    const chunk: Chunk = { bytes: takeBlock(size), read: 0, filled: 0 };
    this.chunks.push(chunk);
    return chunk;
  }

  /** One more event at the end of the ring (its bytes written already). */
  private addEvent(line: number, key: number): void {
    if (this.size === this.lineBytes.length) this.grow(this.size + 1);
    let at = this.head + this.size;
    if (at >= this.lineBytes.length) at -= this.lineBytes.length;
    this.lineBytes[at] = line;
    this.keyBytes[at] = key;
    this.knownValid[at] = 0;
    this.size++;
  }

  private countDrop(reason: string, count: number): void {
    this.droppedBy[reason] = (this.droppedBy[reason] ?? 0) + count;
    this.untold.addNow(reason, count);
  }

  /** Re-lays the ring in order into at least `minSlots` slots (doubling, at most `capacity`). */
  private grow(minSlots: number): void {
    const slots = Math.min(this.capacity, Math.max(minSlots, this.lineBytes.length * 2, INITIAL_SLOTS));
    const lines = new Int32Array(slots);
    const keys = new Int32Array(slots);
    const marks = new Uint8Array(slots);
    for (let i = 0, at = this.head; i < this.size; i++) {
      lines[i] = this.lineBytes[at];
      keys[i] = this.keyBytes[at];
      marks[i] = this.knownValid[at];
      at = at + 1 === this.lineBytes.length ? 0 : at + 1;
    }
    this.lineBytes = lines;
    this.keyBytes = keys;
    this.knownValid = marks;
    this.head = 0;
  }
}

/** Whether the line at `at` of `bytes` has the notice key (its key is as long: checked by the caller). */
function isNoticeKey(bytes: Buffer, at: number): boolean {
  for (let i = 0; i < NOTICE_KEY_BYTES.length; i++) if (bytes[at + i] !== NOTICE_KEY_BYTES[i]) return false;
  return true;
}

/** Writes `<key> <json>\n` at the end of `chunk` (room checked by the caller); returns the key's bytes. */
function writeLine(chunk: Chunk, key: string, json: string): number {
  const { bytes } = chunk;
  const keyBytes = bytes.write(key, chunk.filled, 'utf8');
  let pos = chunk.filled + keyBytes;
  bytes[pos++] = SPACE;
  pos += bytes.write(json, pos, 'utf8');
  bytes[pos++] = NEWLINE;
  chunk.filled = pos;
  return keyBytes;
}
