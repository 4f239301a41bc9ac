import { crc32 } from './crc32.js';

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

/**
 * The most bytes the record of (key, json) can take: UTF-8 needs at most 3 bytes per UTF-16 unit
 * (a surrogate pair, 2 units, makes 4). Bytes are taken as they are.
 */
export function maxRecordBytes(key: string, json: string | Uint8Array): number {
  return HEADER_BYTES + 3 * (key.length + 1) + (typeof json === 'string' ? 3 * json.length : json.length);
}

/**
 * Writes records one at a time where they are wanted (no string joined, no buffer per event:
 * both were garbage at 300,000 events/s), keeping the UTF-8 of the last key, which runs of events
 * share.
 */
export class RecordWriter {
  private lastKey = '';
  private lastKeyBytes = Buffer.from(' ');

  /**
   * Writes the record of (key, json) at `at` in `out`, which has room for maxRecordBytes() there;
   * returns where it ends. `json` may be its UTF-8 bytes already.
   */
  write(out: Buffer, at: number, key: string, json: string | Uint8Array): number {
    if (key !== this.lastKey) {
      this.lastKey = key;
      this.lastKeyBytes = Buffer.from(`${key} `);
    }
    const start = at + HEADER_BYTES;
    out.set(this.lastKeyBytes, start);
    let end = start + this.lastKeyBytes.length;
    if (typeof json === 'string') {
      end += (out as Utf8Writable).utf8Write(json, end);
    } else {
      out.set(json, end);
      end += json.length;
    }
    sealRecord(out, at, end - start);
    return end;
  }
}

/**
 * Buffer's own UTF-8 writer, which `buf.write(text, at, 'utf8')` calls after sorting out its
 * arguments: that sorting cost as much as the writing (profile of a spill at 300,000 events/s).
 */
interface Utf8Writable extends Buffer {
  utf8Write(text: string, at: number): number;
}

/** The records of `events`, one after another in a buffer of their own (one write). */
export function encodeRecords(events: readonly QueuedEvent[]): Buffer {
  const writer = new RecordWriter();
  let estimate = 0;
  for (const { key, json } of events) estimate += HEADER_BYTES + key.length + 1 + json.length;
  let out = Buffer.allocUnsafe(estimate + 64);
  let at = 0;
  for (const { key, json } of events) {
    const need = maxRecordBytes(key, json);
    if (at + need > out.length) {
      // Text that is not ASCII takes more bytes than characters: a larger buffer, once or twice.
      const larger = Buffer.allocUnsafe(Math.max(out.length * 2, at + need));
      out.copy(larger, 0, 0, at);
      out = larger;
    }
    at = writer.write(out, at, key, json);
  }
  return out.subarray(0, at);
}

/** Writes the header of the record at `at` whose payload (`length` bytes) follows it. */
export function sealRecord(out: Buffer, at: number, length: number): void {
  const start = at + HEADER_BYTES;
  out.writeUInt32BE(RECORD_MAGIC, at);
  out.writeUInt32BE(length, at + 4);
  out.writeUInt32BE(crc32(out, start, start + length), at + 8);
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
  const start = at + HEADER_BYTES;
  if (crc32(buf, start, end) !== buf.readUInt32BE(at + 8)) return { kind: 'corrupt' };
  let space = start;
  while (space < end && buf[space] !== 0x20) space++;
  if (space === start || space === end) return { kind: 'corrupt' };
  return { kind: 'record', event: decode ? decodePayload(buf, start, end) : UNDECODED, bytes: HEADER_BYTES + length };
}

/**
 * `<key> <event JSON>` as strings, decoded with one call: UTF-8 never has a space inside a
 * character, so the first space of the text is the first space byte.
 */
function decodePayload(buf: Buffer, start: number, end: number): QueuedEvent {
  const text = buf.toString('utf8', start, end);
  const space = text.indexOf(' ');
  return { key: text.slice(0, space), json: text.slice(space + 1) };
}

/** The magic as bytes, to search for the next record after a corrupt one. */
export const MAGIC_BYTES = Buffer.from([0x4c, 0x59, 0x44, 0x31]);
