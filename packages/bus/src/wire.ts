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

/** One event line of a batch (without its newline). */
export function wireLine(key: string, json: string): string {
  return key + ' ' + json;
}

export type MalformedReason = 'bad_batch' | 'bad_key' | 'bad_event';

export interface BatchSink {
  event(key: string, json: string): void;
  malformed(reason: MalformedReason, count: number): void;
}

/**
 * Splits a batch into events. Checks framing, the key and that each event is an object
 * (starts with "{" and ends with "}"); it does not parse the JSON, which is the job of the
 * drains that need fields. A frame without the magic is one malformed batch.
 */
export function decodeBatch(frame: Buffer, sink: BatchSink): number {
  if (frame.length < WIRE_MAGIC.length || frame.toString('latin1', 0, WIRE_MAGIC.length) !== WIRE_MAGIC) {
    sink.malformed('bad_batch', 1);
    return 0;
  }
  const s = frame.toString('utf8', WIRE_MAGIC.length);
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

/**
 * The core's memory of each publisher: how many of its events it has. Bounded (least recently
 * heard-from publishers are forgotten first); a forgotten or unknown publisher is taken as it comes.
 */
export class PublisherLedger {
  private readonly next = new Map<string, number>();

  constructor(private readonly maxPublishers = 65_536) {}

  get size(): number {
    return this.next.size;
  }

  /**
   * What to do with a batch: `take` false for a batch the core already has (sent again after a
   * reconnect); `lost` the events the publisher sent before it that never arrived.
   */
  batch(publisher: string, seq: number, count: number): { take: boolean; lost: number; next: number } {
    const known = this.next.get(publisher);
    if (known !== undefined && seq + count <= known && count > 0) return { take: false, lost: 0, next: known };
    const lost = known !== undefined && seq > known ? seq - known : 0;
    const next = Math.max(known ?? 0, seq + count);
    // Delete then set: a Map iterates in insertion order, so the first key is the least recent.
    this.next.delete(publisher);
    this.next.set(publisher, next);
    if (this.next.size > this.maxPublishers) this.next.delete(this.next.keys().next().value as string);
    return { take: true, lost, next };
  }

  /** A publisher says goodbye after `seq` events; returns those of them that never arrived. */
  end(publisher: string, seq: number): { lost: number; next: number } {
    const known = this.next.get(publisher);
    this.next.delete(publisher);
    if (known === undefined) return { lost: 0, next: seq };
    return { lost: Math.max(0, seq - known), next: Math.max(known, seq) };
  }
}
