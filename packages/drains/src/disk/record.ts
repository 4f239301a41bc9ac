import { crc32 } from 'node:zlib';

/**
 * A disk queue record: a 12-byte header (magic, payload length, CRC32 of the payload, all
 * big-endian), then the payload `<key> <event JSON>` in UTF-8 (a key has no space).
 * The magic lets a reader find the next record after a corrupt one: lengths alone could not.
 */
export const RECORD_MAGIC = 0x4c594431; // "LYD1"
export const HEADER_BYTES = 12;
/**
 * The largest payload a reader accepts (an event is at most `max_event`, 1 MiB by default, and
 * a key 255 bytes): a larger length field is corruption, never an allocation.
 */
export const MAX_PAYLOAD_BYTES = 16 * 1024 * 1024;

export interface QueuedEvent {
  key: string;
  json: string;
}

/** Stands in the joined text for a record's header (12 one-byte characters), filled in after. */
const HEADER_PLACEHOLDER = ' '.repeat(HEADER_BYTES);
/** Characters joined into one string per write into the buffer (below V8's 128 KiB large objects). */
const JOIN_CHARS = 64 * 1024;
/** The scratch buffer an encoder keeps between batches; a larger batch gets a buffer of its own. */
const MAX_SCRATCH_BYTES = 4 * 1024 * 1024;

/**
 * Lays the records of a batch one after another into one buffer (one write), reusing its buffer
 * from one batch to the next (fresh memory costs page faults, and a buffer per batch the GC).
 */
export class RecordEncoder {
  private scratch = Buffer.alloc(0);

  /** The records of `events`; a view of the encoder's buffer, valid until the next encode(). */
  encode(events: readonly QueuedEvent[]): Buffer {
    // The usual case, ASCII events (JSON escapes the rest unless the publisher sent UTF-8 text):
    // a few hundred events joined into one string and written with one call (not two per
    // event), each record's length then known from its characters. The joined strings stay
    // below V8's large-object size: larger ones would be garbage only a full GC collects.
    let chars = 0;
    for (const { key, json } of events) chars += HEADER_BYTES + key.length + 1 + json.length;
    // 4 bytes more than the characters: a write that had to stop early (a character not ASCII
    // and no room for it) always wrote more bytes than there are characters.
    const out = this.buffer(chars + 4);
    let written = 0;
    let parts: string[] = [];
    let group = 0;
    for (let i = 0; i < events.length; i++) {
      const { key, json } = events[i];
      parts.push(HEADER_PLACEHOLDER, key, ' ', json);
      group += HEADER_BYTES + key.length + 1 + json.length;
      if (group < JOIN_CHARS && i < events.length - 1) continue;
      if (out.write(parts.join(''), written, 'utf8') !== group) return encodeEach(events, this.buffer.bind(this));
      written += group;
      parts = [];
      group = 0;
    }
    let at = 0;
    for (const { key, json } of events) {
      const length = key.length + 1 + json.length;
      sealRecord(out, at, length);
      at += HEADER_BYTES + length;
    }
    return out.subarray(0, at);
  }

  private buffer(bytes: number): Buffer {
    if (bytes > MAX_SCRATCH_BYTES) return Buffer.allocUnsafe(bytes);
    if (this.scratch.length < bytes) this.scratch = Buffer.allocUnsafe(Math.min(MAX_SCRATCH_BYTES, Math.max(bytes, this.scratch.length * 2)));
    return this.scratch;
  }
}

/** The records of `events` in a buffer of their own (one write). */
export function encodeRecords(events: readonly QueuedEvent[]): Buffer {
  return encodeEach(events, (bytes) => Buffer.allocUnsafe(bytes));
}

/** Any text: each event's UTF-8 bytes counted, then written one by one. */
function encodeEach(events: readonly QueuedEvent[], bufferOf: (bytes: number) => Buffer): Buffer {
  let total = 0;
  for (const event of events) total += HEADER_BYTES + Buffer.byteLength(event.key) + 1 + Buffer.byteLength(event.json);
  const out = bufferOf(total);
  let at = 0;
  for (const event of events) {
    const start = at + HEADER_BYTES;
    let end = start + out.write(event.key, start, 'utf8');
    out[end++] = 0x20;
    end += out.write(event.json, end, 'utf8');
    sealRecord(out, at, end - start);
    at = end;
  }
  return out.subarray(0, total);
}

/** Writes the header of the record at `at` whose payload (`length` bytes) follows it. */
function sealRecord(out: Buffer, at: number, length: number): void {
  const start = at + HEADER_BYTES;
  out.writeUInt32BE(RECORD_MAGIC, at);
  out.writeUInt32BE(length, at + 4);
  out.writeUInt32BE(crc32(out.subarray(start, start + length)), at + 8);
}

export type Parsed =
  | { kind: 'record'; event: QueuedEvent; bytes: number }
  /** The buffer ends inside the record (`need` bytes in all would hold it). */
  | { kind: 'incomplete'; need: number }
  /** Not a record here (bad magic, impossible length, CRC mismatch). */
  | { kind: 'corrupt' };

/** Stands for the events a count-only read skips decoding. */
const UNDECODED: QueuedEvent = { key: '', json: '' };

/** The record starting at `at` in `buf`; `decode` false checks it without making its strings. */
export function parseRecord(buf: Buffer, at: number, decode = true): Parsed {
  if (buf.length - at < HEADER_BYTES) return { kind: 'incomplete', need: HEADER_BYTES };
  if (buf.readUInt32BE(at) !== RECORD_MAGIC) return { kind: 'corrupt' };
  const length = buf.readUInt32BE(at + 4);
  if (length < 2 || length > MAX_PAYLOAD_BYTES) return { kind: 'corrupt' };
  const end = at + HEADER_BYTES + length;
  if (end > buf.length) return { kind: 'incomplete', need: HEADER_BYTES + length };
  const payload = buf.subarray(at + HEADER_BYTES, end);
  if (crc32(payload) !== buf.readUInt32BE(at + 8)) return { kind: 'corrupt' };
  const space = payload.indexOf(0x20);
  if (space <= 0) return { kind: 'corrupt' };
  return { kind: 'record', event: decode ? decodePayload(payload) : UNDECODED, bytes: HEADER_BYTES + length };
}

/**
 * `<key> <event JSON>` as strings, decoded with one call: UTF-8 never has a space inside a
 * character, so the first space of the text is the first space byte.
 */
function decodePayload(payload: Buffer): QueuedEvent {
  const text = payload.toString('utf8');
  const space = text.indexOf(' ');
  return { key: text.slice(0, space), json: text.slice(space + 1) };
}

/** The magic as bytes, to search for the next record after a corrupt one. */
export const MAGIC_BYTES = Buffer.from([0x4c, 0x59, 0x44, 0x31]);
