import { isJsonObject } from './json-check.js';
import { CLOSE_BRACE, OPEN_BRACE } from './json-grammar.js';
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

/**
 * Told of what a batch held that was refused: `count` lines (or one batch) for `reason`, and the
 * first of them as text (its first MALFORMED_SAMPLE_BYTES bytes), for a log line that shows it.
 */
export type MalformedCounter = (reason: MalformedReason, count: number, sample?: string) => void;

/** How much of a refused line a MalformedCounter is shown. */
export const MALFORMED_SAMPLE_BYTES = 160;

export interface BatchSink {
  event(key: string, json: string): void;
  malformed(reason: MalformedReason, count: number): void;
}

/**
 * A key as decoded from a frame: made (string and validity check) once per distinct key bytes
 * that a KeyTable holds, not once per line or run; what routes events may keep more on it.
 */
export interface WireKey {
  readonly key: string;
  /** Bytes of the key (a valid key is ASCII: its length). */
  readonly keyBytes: number;
}

/**
 * Consecutive lines of a frame, as the core hands them to a drain or subscriber: `count` lines
 * "<key> <event JSON>\n" in `frame[start, end)`, one after another; line i of the run (from 0)
 * ends at `ends[first + i]` (just past its '\n') and has the key `keys[first + i]`. The keys of a
 * run may differ (the core hands a drain every consecutive line it takes as one run). `ends` and
 * `keys` are the decoder's scratch: valid only during the call that hands the run over. Whoever
 * keeps events of a run copies their bytes (a view would keep the whole frame alive).
 */
export interface WireRun {
  frame: Buffer;
  start: number;
  end: number;
  count: number;
  first: number;
  ends: Int32Array;
  keys: readonly WireKey[];
  /** Its events are known to be valid JSON as JSON.stringify writes it (a batch of this process's own encoder: bus WireBatch.knownValid). */
  knownValid?: boolean;
}

/** What decodeFrame makes of a frame: its good lines in order, line i `frame[starts[i], ends[i])` with its newline. */
export interface FrameLines<K extends WireKey> {
  frame: Buffer;
  count: number;
  starts: Int32Array;
  ends: Int32Array;
  keys: K[];
}

export interface WireSink {
  /** Consecutive lines of one key. */
  run(run: WireRun): void;
  malformed(reason: MalformedReason, count: number): void;
}

const NEWLINE = 0x0a;
const SPACE = 0x20;

/** Slots of a KeyTable: a node's keys repeat, and a miss costs what every line once cost. */
const KEY_SLOTS = 4096;

/**
 * The keys a decoder has read, by their bytes: a line's key is hashed while its space is looked
 * for and compared with the key in its slot; only a key not there is made into a string and
 * checked (KEY_RE). One key per slot, the newest: a flood of distinct keys costs what it did
 * before the table, never more memory. `make` builds what is kept for a valid key.
 */
export class KeyTable<K extends WireKey> {
  private readonly names: string[] = new Array<string>(KEY_SLOTS).fill('');
  /** Per slot: the key, or null when the name in the slot is not a valid key. */
  private readonly entries: Array<K | null> = new Array<K | null>(KEY_SLOTS).fill(null);
  private readonly filled = new Uint8Array(KEY_SLOTS);

  constructor(private readonly make: (key: string, keyBytes: number) => K) {}

  /** The key `frame[from, to)` whose hash (keyHash) is `hash`; null when it is not a valid key. */
  get(frame: Buffer, from: number, to: number, hash: number): K | null {
    const slot = hash & (KEY_SLOTS - 1);
    const name = this.names[slot];
    if (this.filled[slot] === 1 && name.length === to - from) {
      let i = 0;
      while (i < name.length && name.charCodeAt(i) === frame[from + i]) i++;
      if (i === name.length) return this.entries[slot];
    }
    // latin1: one character per byte, so that the comparison above is byte for byte.
    const key = frame.toString('latin1', from, to);
    const entry = KEY_RE.test(key) ? this.make(key, to - from) : null;
    this.names[slot] = key;
    this.entries[slot] = entry;
    this.filled[slot] = 1;
    return entry;
  }
}

/** FNV-1a of one byte more, as KeyTable hashes keys. */
function hashByte(hash: number, byte: number): number {
  return Math.imul(hash ^ byte, 0x01000193);
}
const HASH_START = 0x811c9dc5 | 0;

/** Called unbound: looking the method up on each line's frame cost about 4 ns a line (10 %). */
const indexOf = Buffer.prototype.indexOf;

let scratchStarts: Int32Array = new Int32Array(4096);
let scratchEnds: Int32Array = new Int32Array(4096);
const scratchKeys: WireKey[] = [];
/** Lines readLines refused, by reason (BAD_KEY, BAD_EVENT, TOO_LONG), counted in its loop. */
const refused = new Int32Array(3);
/** Where the first line refused for each reason starts (refusedSample); set when it is counted. */
const firstRefused = new Int32Array(3);
const BAD_KEY = 0;
const BAD_EVENT = 1;
const TOO_LONG = 2;

/**
 * Reads a frame ("LY1\n" then lines) into its good lines on its bytes: a line costs a search for
 * its newline and one for its key's space (hashing the key on the way), and a look in `keys`; no
 * string is made per line. Checks framing, the key, and that each event is an object (starts
 * with "{" and ends with "}"); with `checkJson` (a batch no publisher checked: see the sequenced
 * header below) that it is one JSON object in UTF-8 (isJsonObject, about 0.35 µs for 200 bytes),
 * else the JSON is not parsed, which is the job of the drains that need fields. A frame without
 * the magic is one malformed batch. An event longer than `maxEvent` bytes
 * is refused (`too_long`) without being decoded. The lines' arrays are scratch shared by every
 * call: valid until the next one (the caller routes them before it decodes again).
 */
export function decodeFrame<K extends WireKey>(
  frame: Buffer,
  keys: KeyTable<K>,
  malformed: MalformedCounter,
  maxEvent = Number.POSITIVE_INFINITY,
  checkJson = false,
): FrameLines<K> {
  const lineKeys = scratchKeys as K[];
  if (frame.length < WIRE_MAGIC.length || frame.toString('latin1', 0, WIRE_MAGIC.length) !== WIRE_MAGIC) {
    malformed('bad_batch', 1, frame.toString('utf8', 0, Math.min(frame.length, MALFORMED_SAMPLE_BYTES)));
    return { frame, count: 0, starts: scratchStarts, ends: scratchEnds, keys: lineKeys };
  }
  if (frame[frame.length - 1] !== NEWLINE) {
    // A last line without its newline: read from a copy that has it, as every stored line does.
    const copy = Buffer.allocUnsafe(frame.length + 1);
    frame.copy(copy);
    copy[frame.length] = NEWLINE;
    frame = copy;
  }
  const count = readLines(frame, keys, maxEvent, lineKeys, checkJson);
  if (refused[BAD_KEY]) malformed('bad_key', refused[BAD_KEY], refusedSample(frame, BAD_KEY));
  if (refused[BAD_EVENT]) malformed('bad_event', refused[BAD_EVENT], refusedSample(frame, BAD_EVENT));
  if (refused[TOO_LONG]) malformed('too_long', refused[TOO_LONG], refusedSample(frame, TOO_LONG));
  return { frame, count, starts: scratchStarts, ends: scratchEnds, keys: lineKeys };
}

/**
 * decodeFrame's loop over the lines of `frame` (ending in a newline): the good ones into the
 * scratch arrays, the others counted in `refused`; returns the good ones' count. A function of
 * its own that ends with its loop: V8 compiles a long loop's first run while it runs (OSR), and
 * code after the loop in that function, never run yet, made that code deoptimize at the end of
 * every batch (once, 476 times in a benchmark run) until V8 had compiled the function again.
 */
function readLines<K extends WireKey>(frame: Buffer, keys: KeyTable<K>, maxEvent: number, lineKeys: K[], checkJson: boolean): number {
  refused.fill(0);
  let count = 0;
  let starts = scratchStarts;
  let ends = scratchEnds;
  const length = frame.length;
  let pos = WIRE_MAGIC.length;
  // The last valid key and where its bytes are: a line of the same key (most are) is known by
  // comparing its bytes with those, without hashing it or looking in `keys`.
  let last: K | null = null;
  let lastFrom = 0;
  let lastBytes = 0;
  const view = new DataView(frame.buffer, frame.byteOffset, frame.length);
  while (pos < length) {
    const nl = indexOf.call(frame, NEWLINE, pos);
    if (nl > pos) {
      let sp = pos + lastBytes;
      const same: boolean = last !== null && sp < nl && frame[sp] === SPACE && sameBytes(view, frame, pos, lastFrom, lastBytes);
      let hash = HASH_START;
      if (!same) {
        // A key is at most MAX_KEY_BYTES: its space is looked for no further (a huge event has none early).
        const limit = Math.min(nl, pos + MAX_KEY_BYTES + 1);
        sp = pos;
        for (let c = frame[sp]; sp < limit && c !== SPACE; c = frame[++sp]) hash = hashByte(hash, c);
        if (sp === limit) {
          refuse(nl - pos > maxEvent ? TOO_LONG : limit === nl ? BAD_EVENT : BAD_KEY, pos);
          pos = nl + 1;
          continue;
        }
      }
      const json = sp + 1;
      if (nl - json > maxEvent) {
        refuse(TOO_LONG, pos);
      } else {
        const key: K | null = same ? last : keys.get(frame, pos, sp, hash);
        if (key !== null && !same) {
          last = key;
          lastFrom = pos;
          lastBytes = sp - pos;
        }
        if (key === null) refuse(BAD_KEY, pos);
        else if (frame[json] !== OPEN_BRACE || frame[nl - 1] !== CLOSE_BRACE || nl - 1 <= json || (checkJson && !isJsonObject(frame, json, nl))) refuse(BAD_EVENT, pos);
        else {
          if (count === starts.length) {
            scratchStarts = starts = grown(starts);
            scratchEnds = ends = grown(ends);
          }
          starts[count] = pos;
          ends[count] = nl + 1;
          lineKeys[count] = key;
          count++;
        }
      }
    }
    pos = nl + 1;
  }
  return count;
}

/** Counts a line refused for `reason` (BAD_KEY, BAD_EVENT, TOO_LONG) that starts at `pos`. */
function refuse(reason: number, pos: number): void {
  if (refused[reason]++ === 0) firstRefused[reason] = pos;
}

/** The first line refused for `reason` in the frame readLines read last, cut at MALFORMED_SAMPLE_BYTES. */
function refusedSample(frame: Buffer, reason: number): string {
  const start = firstRefused[reason];
  const nl = frame.indexOf(NEWLINE, start);
  return frame.toString('utf8', start, Math.min(nl < 0 ? frame.length : nl, start + MALFORMED_SAMPLE_BYTES));
}

/** Whether `n` bytes at `a` and at `b` of `frame` (seen through `view`) are the same: four at a time (a 13-byte key: 15 -> 7 ns). */
function sameBytes(view: DataView, frame: Buffer, a: number, b: number, n: number): boolean {
  let i = 0;
  for (; i + 4 <= n; i += 4) if (view.getUint32(a + i) !== view.getUint32(b + i)) return false;
  for (; i < n; i++) if (frame[a + i] !== frame[b + i]) return false;
  return true;
}

function grown(a: Int32Array): Int32Array<ArrayBuffer> {
  const b = new Int32Array(a.length * 2);
  b.set(a);
  return b;
}

/** The keys decodeWire reads (nothing kept on them but the key). */
const plainKeys = new KeyTable<WireKey>((key, keyBytes) => ({ key, keyBytes }));

/**
 * Splits a batch (one frame, "LY1\n" then lines) into runs of consecutive events with the same
 * key (decodeFrame's rules), for readers that take runs (tests, tools). Returns the number of events.
 */
export function decodeWire(frame: Buffer, sink: WireSink, maxEvent = Number.POSITIVE_INFINITY): number {
  const lines = decodeFrame(frame, plainKeys, (reason, count) => sink.malformed(reason, count), maxEvent);
  const { starts, ends, keys, count } = lines;
  for (let i = 0; i < count; ) {
    let j = i + 1;
    while (j < count && keys[j] === keys[i] && starts[j] === ends[j - 1]) j++;
    sink.run({ frame: lines.frame, start: starts[i], end: ends[j - 1], count: j - i, first: i, ends, keys });
    i = j;
  }
  return count;
}

/** The lines of a run one by one, as strings (for what needs them: subscribers of tests, decodeBatch). */
export function forEachEvent(run: WireRun, event: (key: string, json: string) => void): void {
  let from = run.start;
  for (let i = run.first; i < run.first + run.count; i++) {
    const end = run.ends[i];
    const key = run.keys[i];
    event(key.key, run.frame.toString('utf8', from + key.keyBytes + 1, end - 1));
    from = end;
  }
}

/** One event given as strings as a run, for what routes single events (the caller vouches for the key). */
export function singleRun(key: string, json: string): WireRun {
  const frame = Buffer.from(wireLine(key, json) + '\n');
  return { frame, start: 0, end: frame.length, count: 1, first: 0, ends: Int32Array.of(frame.length), keys: [{ key, keyBytes: Buffer.byteLength(key) }] };
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
 *
 * A batch header may end with " v" (known valid): every event of the batch is exactly what
 * JSON.stringify writes for it (JSON.stringify(JSON.parse(event)) === event), as the Publisher's
 * own encoder writes it (bus WireBatch.knownValid). The core's drains then find a template's fields
 * without checking the rest of such an event. Or with " j" (checked): every event is one JSON
 * object in UTF-8, as the Publisher's intake makes sure (its JSON comes from JSON.stringify, or
 * from a caller of publishJson that vouches for it). A batch with neither (an older or a foreign
 * publisher) has each line checked by the core (isJsonObject), and a line that is not one JSON
 * object is counted as bad_event and dropped before any drain sees it. Any local process can set
 * a mark: a batch that lies garbles its own events only (what a template cannot parse goes the
 * checked path; nothing is read outside a line).
 */
export const SEQUENCED_MAGIC = 'LY2';

export type IngestHeader =
  | { kind: 'batch'; publisher: string; seq: number; count: number; confirm: boolean; knownValid: boolean; checked: boolean }
  | { kind: 'end'; publisher: string; seq: number };

/** `events`: what the publisher says of its events, 'exact' (" v"), 'checked' (" j") or nothing. */
export function batchHeader(publisher: string, seq: number, count: number, confirm: boolean, events?: 'exact' | 'checked'): string {
  return `${SEQUENCED_MAGIC} B ${publisher} ${seq} ${count} ${confirm ? 1 : 0}${events === 'exact' ? ' v' : events === 'checked' ? ' j' : ''}`;
}

export function endHeader(publisher: string, seq: number): string {
  return `${SEQUENCED_MAGIC} E ${publisher} ${seq}`;
}

const HEADER_RE = /^LY2 (?:B (\S{1,64}) (\d{1,15}) (\d{1,9}) ([01])(?: ([vj]))?|E (\S{1,64}) (\d{1,15}))$/;

/** Parses a header frame; null when it is not one. */
export function parseIngestHeader(frame: Buffer): IngestHeader | null {
  if (frame.length > 128) return null;
  const m = HEADER_RE.exec(frame.toString('latin1'));
  if (!m) return null;
  if (m[1] !== undefined) return { kind: 'batch', publisher: m[1], seq: Number(m[2]), count: Number(m[3]), confirm: m[4] === '1', knownValid: m[5] === 'v', checked: m[5] !== undefined };
  return { kind: 'end', publisher: m[6], seq: Number(m[7]) };
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
