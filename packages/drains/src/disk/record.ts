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

/** The records of `events`, laid one after another into one buffer (one write). */
export function encodeRecords(events: readonly QueuedEvent[]): Buffer {
  let total = 0;
  for (const event of events) total += HEADER_BYTES + Buffer.byteLength(event.key) + 1 + Buffer.byteLength(event.json);
  const out = Buffer.allocUnsafe(total);
  let at = 0;
  for (const event of events) {
    const start = at + HEADER_BYTES;
    let end = start + out.write(event.key, start, 'utf8');
    out[end++] = 0x20;
    end += out.write(event.json, end, 'utf8');
    out.writeUInt32BE(RECORD_MAGIC, at);
    out.writeUInt32BE(end - start, at + 4);
    out.writeUInt32BE(crc32(out.subarray(start, end)), at + 8);
    at = end;
  }
  return out;
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
  const event = decode ? { key: payload.toString('utf8', 0, space), json: payload.toString('utf8', space + 1) } : UNDECODED;
  return { kind: 'record', event, bytes: HEADER_BYTES + length };
}

/** The magic as bytes, to search for the next record after a corrupt one. */
export const MAGIC_BYTES = Buffer.from([0x4c, 0x59, 0x44, 0x31]);
