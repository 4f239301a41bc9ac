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
 * Splits a batch into events. Checks framing, the key and that each event is an object
 * (starts with "{" and ends with "}"); it does not parse the JSON, which is the job of the
 * drains that need fields. A frame without the magic is one malformed batch. An event longer
 * than `maxEvent` bytes is refused (`too_long`) without being decoded.
 */
export function decodeBatch(frame: Buffer, sink: BatchSink, maxEvent = Number.POSITIVE_INFINITY): number {
  if (frame.length < WIRE_MAGIC.length || frame.toString('latin1', 0, WIRE_MAGIC.length) !== WIRE_MAGIC) {
    sink.malformed('bad_batch', 1);
    return 0;
  }
  // The usual batch (about 100 KiB) cannot hold an event longer than max_event: decoded at once.
  if (frame.length - WIRE_MAGIC.length <= maxEvent) return decodeLines(frame.toString('utf8', WIRE_MAGIC.length), sink);
  // Else each too long line is cut out on the bytes first: a 100 MB event would cost the core
  // several times that as a string, and more in every drain.
  let good = 0;
  let tooLong = 0;
  let from = WIRE_MAGIC.length;
  for (let pos = from; pos < frame.length; ) {
    let nl = frame.indexOf(NEWLINE, pos);
    if (nl < 0) nl = frame.length;
    if (nl - pos > maxEvent) {
      const sp = frame.subarray(pos, Math.min(nl, pos + MAX_KEY_BYTES + 1)).indexOf(SPACE);
      if (sp < 0 || nl - (pos + sp + 1) > maxEvent) {
        if (pos > from) good += decodeLines(frame.toString('utf8', from, pos), sink);
        tooLong++;
        from = nl + 1;
      }
    }
    pos = nl + 1;
  }
  if (from < frame.length) good += decodeLines(frame.toString('utf8', from), sink);
  if (tooLong) sink.malformed('too_long', tooLong);
  return good;
}

const NEWLINE = 0x0a;
const SPACE = 0x20;

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
