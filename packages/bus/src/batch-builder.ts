import { hasJsonEscapes, MAX_ESCAPED_PER_BYTE, writeJsonEscaped } from './json-bytes.js';
import { copyPlainAscii, copyWords, MAX_WORD_COPY } from './copy-words.js';
import { needsJsonEscape } from './event.js';
import { encodeBatch, WIRE_MAGIC, wireLine } from './wire.js';

/** A wire batch (wire.ts): `LY1\n` then `<key> <event JSON>\n` per event, and how many events it holds. */
export interface WireBatch {
  body: Buffer;
  count: number;
  /**
   * Every event of the batch was written by this process's own encoder, from pieces whose
   * EventPrefix is `knownValid`: its JSON is valid as JSON.stringify writes it, which the core
   * may tell the drains so they need not check it again (a batch from publish.sock never is).
   */
  knownValid: boolean;
  /**
   * Where each event's line ends and the prefix it was written with, when every event of the
   * batch was appended from pieces of a prefix by a builder that indexes (the direct publisher's):
   * the core then routes the batch without reading it for its lines and keys.
   */
  lines?: BatchLines;
}

/** The lines of a batch as its builder wrote them (WireBatch.lines). */
export interface BatchLines {
  count: number;
  /** Line i (from 0) ends at `ends[i]`, just past its newline. */
  ends: Int32Array;
  prefixes: EventPrefix[];
}

/** A batch of one event (the notice of a publisher's drops, which goes ahead of the others). */
export function oneEventBatch(key: string, json: string): WireBatch {
  return { body: Buffer.from(encodeBatch([wireLine(key, json)])), count: 1, knownValid: false };
}

/**
 * The bytes that start every event of one key whose JSON starts the same way (`{"text":"`):
 * `<key> ` and that head, ready to be copied in front of an event's text (see
 * EventPublisher.publishPieces). Made once per key and kept by the caller.
 */
export class EventPrefix {
  readonly bytes: Buffer;
  /** How many of the bytes are the event's JSON (the head). */
  readonly jsonBytes: number;

  /**
   * `knownValid`: the caller vouches that every event it publishes with this prefix is valid
   * JSON as JSON.stringify writes it (no whitespace, no duplicate keys): the head, the bytes
   * (escaped as JSON by the publisher when asked, valid UTF-8) and the tail. Its batches are then
   * marked so (WireBatch.knownValid). Only for events built by the caller's own encoder, never
   * for bytes as a sender sent them.
   */
  constructor(
    readonly key: string,
    head: string,
    readonly knownValid = false,
  ) {
    this.bytes = Buffer.from(key + ' ' + head);
    this.jsonBytes = Buffer.byteLength(head);
  }

  /**
   * What the router of the process's core keeps for this prefix's key (see WireBatch.lines),
   * with the router it belongs to: found once, not once per event.
   */
  routed: { by: object; key: unknown } | null = null;
}

/**
 * How large publishers cut batches (one ZeroMQ message, one delivery of the direct publisher). The
 * core's cost is mostly per batch (receiving it, its header, its confirmation, waking the thread):
 * in the core benchmark 512 KiB batches cost the core 0.49-0.53 CPU-s per million events of 200
 * bytes against 0.79-0.97 with 96 KiB. The core reads batches as bytes, so a large one is no
 * large string for its garbage collector.
 */
export const MAX_BATCH_EVENTS = 8192;
export const MAX_BATCH_BYTES = 512 * 1024;

const MAGIC = Buffer.from(WIRE_MAGIC);
/** What the builder writes into before its first event: no room, so the first event starts a batch. */
const NO_ROOM = Buffer.alloc(0);
const SPACE = 0x20;
/** Buffers of batches done with kept for reuse, unless the builder is told otherwise. */
const KEEP_FREE_BUFFERS = 8;
const NO_LINES: BatchLines = { count: 0, ends: new Int32Array(0), prefixes: [] };
const NEWLINE = 0x0a;


/**
 * Writes events straight into wire batches as they are published: a string is encoded once into
 * the batch's Buffer, an event given as bytes is copied there, and a full batch is sealed as it
 * will be sent. No per-event line strings, no join per batch, no encoding per send (in the
 * receive benchmark, joining and encoding batches of strings took a quarter of `logyard receive`).
 */
export class BatchBuilder {
  /** Sealed batches, oldest first. */
  private readonly sealed: WireBatch[] = [];
  /** Buffers of batches done with (see recycle), written into again. */
  private readonly free: ArrayBuffer[] = [];
  private buf: Buffer = NO_ROOM;
  /** `buf` and the last source of appendPieces, to copy through four bytes at a time. */
  private view: DataView<ArrayBufferLike> = new DataView(NO_ROOM.buffer, 0, 0);
  private srcBuf: Buffer = NO_ROOM;
  private srcView = this.view;
  private pos = 0;
  private count = 0;
  /** Whether the batch being written holds an event that is not known valid (see WireBatch.knownValid). */
  private unchecked = false;
  /** The index of the batch being written (NO_LINES when the builder does not index), and whether an event without a prefix spoilt it. */
  private lines: BatchLines = NO_LINES;
  private unindexed = false;
  /** Indexes of batches done with (see recycle). */
  private readonly freeLines: BatchLines[] = [];
  /** Events and bytes of lines held, sealed or not (the magic not counted). */
  events = 0;
  bytes = 0;

  /**
   * A batch is sealed once it holds `maxEvents` events or `maxBytes` bytes (an event longer than
   * that gets a batch alone). `compact`: a batch sealed while it fills less than a quarter of its
   * buffer is copied into one of its size and the buffer written on (a publisher of a few events
   * a second would else hold a 512 KiB buffer per event until the core confirms it); for
   * batches that are recycled instead, it is not needed. `indexed`: batches of pieces carry
   * their lines (WireBatch.lines). `keepFree`: buffers of batches recycled kept for reuse, at most.
   */
  constructor(
    private readonly maxEvents = MAX_BATCH_EVENTS,
    private readonly maxBytes = MAX_BATCH_BYTES,
    private readonly compact = false,
    options: { indexed?: boolean; keepFree?: number } = {},
  ) {
    this.indexed = options.indexed ?? false;
    this.keepFree = options.keepFree ?? KEEP_FREE_BUFFERS;
  }

  private readonly indexed: boolean;
  private readonly keepFree: number;

  /** Appends the event `json` of `key`; `knownValid`: the caller vouches it is as JSON.stringify writes it (WireBatch.knownValid). */
  append(key: string, json: string, knownValid = false): void {
    // UTF-16 length times 3 bounds the UTF-8 bytes: most events are not measured.
    let size = key.length + json.length * 3 + 2;
    if (this.pos + size > this.buf.length) size = Buffer.byteLength(key) + Buffer.byteLength(json) + 2;
    this.room(size);
    if (!knownValid) this.unchecked = true;
    this.unindexed = true;
    const buf = this.buf;
    let pos = this.pos;
    pos += buf.write(key, pos, 'utf8');
    buf[pos++] = SPACE;
    pos += buf.write(json, pos, 'utf8');
    buf[pos++] = NEWLINE;
    this.written(pos);
  }

  /**
   * Appends the event whose JSON is `prefix`'s head, `src[start, end)` and `tail`, in `prefix`'s
   * key; escaped for JSON as it is copied when `escape`. The event is known valid when `prefix`
   * is and `tailValid` (the tail is as JSON.stringify writes it after such a text).
   */
  appendPieces(prefix: EventPrefix, src: Buffer, start: number, end: number, tail: Buffer, escape = false, tailValid = true): void {
    this.room(prefix.bytes.length + (end - start) * (escape ? MAX_ESCAPED_PER_BYTE : 1) + tail.length + 1);
    if (!prefix.knownValid || !tailValid) this.unchecked = true;
    const buf = this.buf;
    let pos = this.pos;
    buf.set(prefix.bytes, pos);
    pos += prefix.bytes.length;
    if (escape) {
      pos += writeJsonEscaped(src, start, end, buf, pos);
    } else if (end - start <= MAX_WORD_COPY) {
      if (src !== this.srcBuf) {
        this.srcBuf = src;
        this.srcView = new DataView(src.buffer, src.byteOffset, src.length);
      }
      pos += copyWords(this.srcView, start, end, this.view, pos);
    } else {
      pos += src.copy(buf, pos, start, end);
    }
    buf.set(tail, pos);
    pos += tail.length;
    buf[pos++] = NEWLINE;
    this.written(pos, prefix);
  }

  /**
   * appendPieces for text that needs no escaping when it is plain ASCII (no byte of 0x80 or
   * more, below 0x20, quote or backslash), checked as it is copied: false, and nothing appended,
   * when it is not (the caller looks at such text closer, then calls appendPieces).
   */
  appendPlainAscii(prefix: EventPrefix, src: Buffer, start: number, end: number, tail: Buffer): boolean {
    this.room(prefix.bytes.length + (end - start) + tail.length + 1);
    const buf = this.buf;
    let pos = this.pos + prefix.bytes.length;
    if (src !== this.srcBuf) {
      this.srcBuf = src;
      this.srcView = new DataView(src.buffer, src.byteOffset, src.length);
    }
    const n = copyPlainAscii(this.srcView, start, end, this.view, pos);
    if (n < 0) return false;
    buf.set(prefix.bytes, this.pos);
    if (!prefix.knownValid) this.unchecked = true;
    pos += n;
    buf.set(tail, pos);
    pos += tail.length;
    buf[pos++] = NEWLINE;
    this.written(pos, prefix);
    return true;
  }

  /**
   * Appends the event whose JSON is `prefix`'s head, `text` and `tail`, in `prefix`'s key, when
   * `text` needs no escaping in JSON; returns false and appends nothing when it does. The text is
   * written once, straight into the batch, and the escape check runs on the bytes written: an
   * ASCII text (as many bytes as characters) needs a look for quotes, backslashes and control
   * bytes only (hasJsonEscapes), any other the regular expression on the string, which also finds
   * lone surrogates (written as U+FFFD, where JSON.stringify writes `\udxxx`). Known valid as
   * appendPieces says.
   */
  appendPlainText(prefix: EventPrefix, text: string, tail: Buffer, tailValid = true): boolean {
    this.room(prefix.bytes.length + text.length * 3 + tail.length + 1);
    const buf = this.buf;
    buf.set(prefix.bytes, this.pos);
    const at = this.pos + prefix.bytes.length;
    const n = (buf as unknown as Utf8Writer).utf8Write(text, at);
    if (n === text.length ? hasJsonEscapes(this.view, at, at + n) : needsJsonEscape(text)) return false;
    if (!prefix.knownValid || !tailValid) this.unchecked = true;
    let pos = at + n;
    buf.set(tail, pos);
    pos += tail.length;
    buf[pos++] = NEWLINE;
    this.written(pos, prefix);
    return true;
  }

  /** Seals the batch being written, if it holds any event. */
  seal(): void {
    if (this.count === 0) return;
    if (this.compact && this.pos * 4 < this.buf.length) {
      const body = Buffer.allocUnsafe(this.pos);
      this.buf.copy(body, 0, 0, this.pos);
      this.sealed.push({ body, count: this.count, knownValid: !this.unchecked });
      // The magic stays at the start of the buffer, which the next batch is written into.
      this.pos = MAGIC.length;
      this.count = 0;
      this.unchecked = false;
      return;
    }
    const batch: WireBatch = { body: this.buf.subarray(0, this.pos), count: this.count, knownValid: !this.unchecked };
    if (this.lines !== NO_LINES) {
      if (this.unindexed) this.freeLines.push(this.lines);
      else {
        this.lines.count = this.count;
        batch.lines = this.lines;
      }
      this.lines = NO_LINES;
    }
    this.sealed.push(batch);
    this.buf = NO_ROOM;
    this.pos = 0;
    this.count = 0;
    this.unchecked = false;
    this.unindexed = false;
  }

  /** The oldest sealed batch, sealing the one being written when none is; null when empty. */
  take(): WireBatch | null {
    if (this.sealed.length === 0) this.seal();
    const batch = this.sealed.shift();
    if (!batch) return null;
    this.events -= batch.count;
    this.bytes -= batch.body.length - MAGIC.length;
    return batch;
  }

  /**
   * Takes back a batch taken and done with (nothing refers to its bytes any more): its buffer is
   * written into again instead of a new one (each new one costs the garbage collector its size).
   */
  recycle(batch: Pick<WireBatch, 'body' | 'lines'>): void {
    const { buffer } = batch.body;
    if (buffer.byteLength === this.maxBytes + MAGIC.length && this.free.length < this.keepFree) this.free.push(buffer as ArrayBuffer);
    if (batch.lines && this.freeLines.length < KEEP_FREE_BUFFERS) this.freeLines.push(batch.lines);
  }

  /** Lets go of the buffers kept for reuse (a publisher gone idle holds none). */
  releaseFree(): void {
    this.free.length = 0;
  }

  /** Forgets every event held. */
  clear(): void {
    this.sealed.length = 0;
    this.buf = NO_ROOM;
    this.pos = 0;
    this.count = 0;
    this.unchecked = false;
    this.unindexed = false;
    this.lines = NO_LINES;
    this.events = 0;
    this.bytes = 0;
  }

  /** Makes room for a line of `size` bytes: seals a full batch, starts a new one. */
  private room(size: number): void {
    if (this.count > 0 && (this.count >= this.maxEvents || this.pos + size > this.buf.length)) this.seal();
    if (this.count === 0 && this.pos + size > this.buf.length) {
      const reused = size <= this.maxBytes ? this.free.pop() : undefined;
      this.buf = reused ? Buffer.from(reused) : Buffer.allocUnsafe(Math.max(this.maxBytes, size) + MAGIC.length);
      this.view = new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.length);
      this.buf.set(MAGIC, 0);
      this.pos = MAGIC.length;
    }
    if (this.indexed && this.count === 0 && this.lines === NO_LINES) this.lines = this.freeLines.pop() ?? { count: 0, ends: new Int32Array(this.maxEvents), prefixes: new Array<EventPrefix>(this.maxEvents) };
  }

  /** An event's line was written up to `pos`; `prefix`: from pieces of it (for the index). */
  private written(pos: number, prefix?: EventPrefix): void {
    const lines = this.lines;
    if (lines !== NO_LINES && prefix !== undefined) {
      lines.ends[this.count] = pos;
      lines.prefixes[this.count] = prefix;
    }
    this.bytes += pos - this.pos;
    this.pos = pos;
    this.count++;
    this.events++;
  }
}

/**
 * Buffer's UTF-8 writer, which `buf.write(s, at, 'utf8')` calls once it has checked its arguments
 * and looked the encoding up: a tenth of the cost of a 110-byte log line's write skipped. Not in
 * Node's typings; the caller has made room.
 */
interface Utf8Writer {
  utf8Write(text: string, at: number): number;
}
