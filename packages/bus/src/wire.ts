import { KEY_RE, MAX_KEY_BYTES } from './keys.js';

/**
 * Wire format between publishers and the core: one ZeroMQ frame per batch,
 *
 *   "LY1\n" then, per event, "<key> <event JSON>\n"
 *
 * A key has no spaces and JSON.stringify never emits a raw newline, so the batch is
 * self-delimiting and the core can route events by slicing, without parsing their JSON.
 */
export const WIRE_MAGIC = 'LY1\n';

export function encodeBatch(lines: readonly string[]): string {
  return WIRE_MAGIC + lines.join('\n') + '\n';
}

/** One event line of a batch (without its newline); also what a `format=raw` drain sends. */
export function wireLine(key: string, json: string): string {
  return key + ' ' + json;
}

export type MalformedReason = 'bad_batch' | 'bad_key' | 'bad_event' | 'too_long';

export interface BatchSink {
  event(key: string, json: string): void;
  malformed(reason: MalformedReason, count: number): void;
}

/**
 * Consecutive events of one key in a frame, as the core routes them: `count` lines
 * "<key> <event JSON>\n" in `frame[start, end)`; line i of the run ends at `ends[i]` (just past its
 * '\n'). `ends` is the decoder's scratch: valid only during the call that hands the run over.
 * Whoever keeps events of a run copies their bytes (a view would keep the whole frame alive).
 */
export interface WireRun {
  key: string;
  /** Bytes of the key (a valid key is ASCII: its length). */
  keyBytes: number;
  frame: Buffer;
  start: number;
  end: number;
  count: number;
  ends: Int32Array;
}

export interface WireSink {
  run(run: WireRun): void;
  malformed(reason: MalformedReason, count: number): void;
}

const NEWLINE = 0x0a;
const SPACE = 0x20;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;

/**
 * Splits a batch (one frame, "LY1\n" then lines) into runs of events with the same key, on its
 * bytes: a line costs a search for its newline and a comparison of its key's bytes with the
 * previous line's; a key string is made and checked once per run (routing, key counts and
 * drains' copies are per run too). Checks framing, the key, and that each event is an object
 * (starts with "{" and ends with "}"); the JSON is not parsed, which is the job of the drains
 * that need fields. A frame without the magic is one malformed batch. An event longer than
 * `maxEvent` bytes is refused (`too_long`) without being decoded. Returns the number of events.
 */
export function decodeWire(frame: Buffer, sink: WireSink, maxEvent = Number.POSITIVE_INFINITY): number {
  if (frame.length < WIRE_MAGIC.length || frame.toString('latin1', 0, WIRE_MAGIC.length) !== WIRE_MAGIC) {
    sink.malformed('bad_batch', 1);
    return 0;
  }
  return new WireDecoder(frame, sink, maxEvent).decode(WIRE_MAGIC.length);
}

/** The lines of a run one by one, as strings (for what needs them: subscribers of tests, decodeBatch). */
export function forEachEvent(run: WireRun, event: (key: string, json: string) => void): void {
  let from = run.start;
  for (let i = 0; i < run.count; i++) {
    const end = run.ends[i];
    event(run.key, run.frame.toString('utf8', from + run.keyBytes + 1, end - 1));
    from = end;
  }
}

/** One event given as strings as a run, for what routes single events (the caller vouches for the key). */
export function singleRun(key: string, json: string): WireRun {
  const frame = Buffer.from(wireLine(key, json) + '\n');
  return { key, keyBytes: Buffer.byteLength(key), frame, start: 0, end: frame.length, count: 1, ends: Int32Array.of(frame.length) };
}

/**
 * Splits a batch into events, as strings: decodeWire's rules, one call per event. For readers
 * that want strings (tests, tools); the core routes runs (decodeWire).
 */
export function decodeBatch(frame: Buffer, sink: BatchSink, maxEvent = Number.POSITIVE_INFINITY): number {
  return decodeWire(frame, { run: (run) => forEachEvent(run, (key, json) => sink.event(key, json)), malformed: (reason, count) => sink.malformed(reason, count) }, maxEvent);
}

/**
 * The one reader of `KEY JSON` lines (a batch after its magic, a subscriber's message, what a
 * `format=raw` drain sends to `logyard tail`): each valid line goes to `sink.event`; lines with a
 * bad key or that are not an object are counted. Returns the number of events.
 */
export function decodeLines(s: string, sink: BatchSink): number {
  let pos = 0;
  let good = 0;
  let badKey = 0;
  let badEvent = 0;
  const end = s.length;
  while (pos < end) {
    let nl = s.indexOf('\n', pos);
    if (nl < 0) nl = end;
    const sp = s.indexOf(' ', pos);
    if (sp < 0 || sp > nl) {
      if (nl > pos) badEvent++;
    } else {
      const key = s.slice(pos, sp);
      if (key.length > MAX_KEY_BYTES || !KEY_RE.test(key)) badKey++;
      else if (s.charCodeAt(sp + 1) !== 123 /* { */ || s.charCodeAt(nl - 1) !== 125 /* } */) badEvent++;
      else {
        sink.event(key, s.slice(sp + 1, nl));
        good++;
      }
    }
    pos = nl + 1;
  }
  if (badKey) sink.malformed('bad_key', badKey);
  if (badEvent) sink.malformed('bad_event', badEvent);
  return good;
}

let scratchEnds = new Int32Array(4096);

class WireDecoder {
  /** The run being gathered: its key (valid), where its key's bytes are, its first line, its lines. */
  private key = '';
  private keyAt = -1;
  private keyBytes = 0;
  private runStart = 0;
  private count = 0;
  private good = 0;
  private badKey = 0;
  private badEvent = 0;
  private tooLong = 0;
  private ends = scratchEnds;

  constructor(
    private readonly frame: Buffer,
    private readonly sink: WireSink,
    private readonly maxEvent: number,
  ) {}

  decode(from: number): number {
    const { frame } = this;
    const length = frame.length;
    let pos = from;
    while (pos < length) {
      let nl = frame.indexOf(NEWLINE, pos);
      if (nl < 0) nl = length;
      if (nl > pos) this.line(pos, nl);
      pos = nl + 1;
    }
    this.flush();
    const { sink } = this;
    if (this.badKey) sink.malformed('bad_key', this.badKey);
    if (this.badEvent) sink.malformed('bad_event', this.badEvent);
    if (this.tooLong) sink.malformed('too_long', this.tooLong);
    return this.good;
  }

  /** One non-empty line, frame[pos, nl). */
  private line(pos: number, nl: number): void {
    const { frame } = this;
    let keyBytes = this.keyBytes;
    if (!(this.keyAt >= 0 && pos + keyBytes < nl && frame[pos + keyBytes] === SPACE && this.sameKey(pos))) {
      // Another key (or the first): the run so far goes, and this key is read and checked once.
      this.flush();
      this.keyAt = -1;
      // A key is at most MAX_KEY_BYTES: its space is looked for no further (a huge event has none early).
      const limit = Math.min(nl, pos + MAX_KEY_BYTES + 1);
      let sp = pos;
      while (sp < limit && frame[sp] !== SPACE) sp++;
      if (sp === limit) return this.refuse(nl - pos > this.maxEvent ? 'too_long' : limit === nl ? 'bad_event' : 'bad_key');
      keyBytes = sp - pos;
      const key = frame.toString('latin1', pos, sp);
      if (key !== this.key && !KEY_RE.test(key)) return this.refuse(nl - sp - 1 > this.maxEvent ? 'too_long' : 'bad_key');
      this.key = key;
      this.keyAt = pos;
      this.keyBytes = keyBytes;
    }
    const json = pos + keyBytes + 1;
    if (nl - json > this.maxEvent) return this.refuse('too_long');
    if (frame[json] !== OPEN_BRACE || frame[nl - 1] !== CLOSE_BRACE || nl - 1 <= json) return this.refuse('bad_event');
    if (nl === frame.length) {
      // A last line without its newline: a run of its own, with the newline every stored line has.
      this.flush();
      const copy = Buffer.allocUnsafe(nl - pos + 1);
      frame.copy(copy, 0, pos, nl);
      copy[copy.length - 1] = NEWLINE;
      this.emit(copy, 0, 1, Int32Array.of(copy.length));
      return;
    }
    if (this.count === 0) this.runStart = pos;
    else if (this.count === this.ends.length) this.growEnds();
    this.ends[this.count++] = nl + 1;
  }

  /** Whether the line at `pos` starts with the run's key. */
  private sameKey(pos: number): boolean {
    const { frame, keyAt, keyBytes } = this;
    if (keyAt === pos) return true;
    for (let i = 0; i < keyBytes; i++) if (frame[pos + i] !== frame[keyAt + i]) return false;
    return true;
  }

  /** A bad line ends the run before it (the runs are contiguous bytes). */
  private refuse(reason: 'bad_key' | 'bad_event' | 'too_long'): void {
    this.flush();
    if (reason === 'bad_key') this.badKey++;
    else if (reason === 'bad_event') this.badEvent++;
    else this.tooLong++;
  }

  private flush(): void {
    const count = this.count;
    if (count === 0) return;
    this.count = 0;
    this.emit(this.frame, this.runStart, count, this.ends);
  }

  private emit(frame: Buffer, start: number, count: number, ends: Int32Array): void {
    this.good += count;
    this.sink.run({ key: this.key, keyBytes: this.keyBytes, frame, start, end: ends[count - 1], count, ends });
  }

  private growEnds(): void {
    const grown = new Int32Array(this.ends.length * 2);
    grown.set(this.ends);
    this.ends = scratchEnds = grown;
  }
}

/*
 * Sequenced delivery (publisher <-> core, ZeroMQ DEALER <-> ROUTER on publish.sock).
 *
 * A publisher numbers its events from 0 and sends each batch as two frames,
 *
 *   "LY2 B <publisher> <seq> <count> <confirm>"   then the batch above ("LY1\n...")
 *
 * where <publisher> is a random id of this Publisher object and <seq> the number of its events
 * before this batch. The core answers a batch whose <confirm> is 1 with "A <next>" (it has events
 * 0..next-1 of that publisher); publishers ask for it every few batches and at the end of a burst,
 * since an answer per batch costs the core more than the rest of the protocol together. The
 * publisher keeps a batch until it is confirmed and sends it again after a reconnect (the core
 * skips what it already has). Before it disconnects, a publisher sends
 * "LY2 E <publisher> <seq>" and waits for "E <next>": the core forgets it, and nothing is left in
 * flight when the connection closes (libzmq discards bytes still unread in the socket when the
 * peer hangs up while the receiving pipe is full). A batch or end whose <seq> is past what the
 * core has means events went missing between the two: the core counts them as lost_in_transit.
 * A bare "LY1\n..." frame is still taken, unsequenced and unconfirmed.
 */
export const SEQUENCED_MAGIC = 'LY2';

export type IngestHeader =
  | { kind: 'batch'; publisher: string; seq: number; count: number; confirm: boolean }
  | { kind: 'end'; publisher: string; seq: number };

export function batchHeader(publisher: string, seq: number, count: number, confirm: boolean): string {
  return `${SEQUENCED_MAGIC} B ${publisher} ${seq} ${count} ${confirm ? 1 : 0}`;
}

export function endHeader(publisher: string, seq: number): string {
  return `${SEQUENCED_MAGIC} E ${publisher} ${seq}`;
}

const HEADER_RE = /^LY2 (?:B (\S{1,64}) (\d{1,15}) (\d{1,9}) ([01])|E (\S{1,64}) (\d{1,15}))$/;

/** Parses a header frame; null when it is not one. */
export function parseIngestHeader(frame: Buffer): IngestHeader | null {
  if (frame.length > 128) return null;
  const m = HEADER_RE.exec(frame.toString('latin1'));
  if (!m) return null;
  if (m[1] !== undefined) return { kind: 'batch', publisher: m[1], seq: Number(m[2]), count: Number(m[3]), confirm: m[4] === '1' };
  return { kind: 'end', publisher: m[5], seq: Number(m[6]) };
}

export type Ack = { kind: 'batch' | 'end'; next: number };

export function ackFrame(ack: Ack): string {
  return `${ack.kind === 'end' ? 'E' : 'A'} ${ack.next}`;
}

export function parseAck(frame: Buffer): Ack | null {
  const s = frame.toString('latin1');
  const next = Number(s.slice(2));
  if (s.length < 3 || s[1] !== ' ' || !Number.isSafeInteger(next) || next < 0) return null;
  if (s[0] === 'A') return { kind: 'batch', next };
  if (s[0] === 'E') return { kind: 'end', next };
  return null;
}
