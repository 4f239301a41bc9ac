/**
 * GELF, Graylog's log format, as Docker's `gelf` log driver and Graylog's libraries send it: a
 * JSON object (`version`, `host`, `short_message`, `full_message`, `timestamp`, `level`, and
 * additional fields named `_...`), over UDP one per datagram (uncompressed, gzip or zlib; a
 * message larger than a datagram is sent in chunks) or over TCP uncompressed, each ended by a NUL.
 */
import { gunzipSync, inflateSync } from 'node:zlib';
import { keyWithName, SEVERITY_NAMES } from '@logyard/bus';

export type GelfMalformedReason =
  | 'invalid_json'
  | 'not_object'
  | 'missing_short_message'
  | 'bad_compression'
  | 'bad_chunk'
  | 'incomplete_chunks'
  | 'too_long';

export interface GelfProblem {
  malformed: GelfMalformedReason;
  detail: string;
}

export interface GelfEvent {
  key: string;
  fields: Record<string, unknown>;
}

/** A GELF message, decompressed, is at most this long (Docker's are 16 KiB of text and some fields). */
export const GELF_MAX_MESSAGE_BYTES = 1024 * 1024;

/** The standard fields kept as they are (the others become `text` and `severity`). */
const KEPT_FIELDS = ['host', 'facility', 'file', 'line'];

export function isGelfProblem<T>(r: T | GelfProblem): r is GelfProblem {
  return typeof r === 'object' && r !== null && (r as GelfProblem).malformed !== undefined && !Buffer.isBuffer(r);
}

/**
 * The event of one GELF message: key `gelf.<_container_name or host>` (made one key segment),
 * `text` the short_message (a full_message is added on a line of its own, or replaces it when
 * it begins with it), `severity` the level as a syslog severity name, `host`, `facility`,
 * `file`, `line` and every additional `_` field as sent, at the sender's `timestamp`.
 */
export function parseGelf(json: string): GelfEvent | GelfProblem {
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch (err) {
    return { malformed: 'invalid_json', detail: `not JSON: ${(err as Error).message}` };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return { malformed: 'not_object', detail: 'a GELF message must be a JSON object' };
  }
  const m = value as Record<string, unknown>;
  if (typeof m.short_message !== 'string') return { malformed: 'missing_short_message', detail: 'no string "short_message"' };
  let text = m.short_message;
  if (typeof m.full_message === 'string' && m.full_message !== '' && m.full_message !== text) {
    text = m.full_message.startsWith(text) ? m.full_message : `${text}\n${m.full_message}`;
  }
  const fields: Record<string, unknown> = { text };
  const level = typeof m.level === 'string' && /^[0-7]$/.test(m.level) ? Number(m.level) : m.level;
  // GELF's default level is 1 (alert), as Graylog takes it.
  fields.severity = SEVERITY_NAMES[typeof level === 'number' && Number.isInteger(level) && level >= 0 && level <= 7 ? level : 1];
  for (const name of KEPT_FIELDS) if (m[name] !== undefined) fields[name] = m[name];
  for (const name in m) if (name.startsWith('_')) fields[name] = m[name];
  const timestamp = typeof m.timestamp === 'string' ? Number(m.timestamp) : m.timestamp;
  if (typeof timestamp === 'number' && Number.isFinite(timestamp) && timestamp > 0) fields.unix_time = timestamp;
  const name = typeof m._container_name === 'string' && m._container_name !== '' ? m._container_name : typeof m.host === 'string' ? m.host : null;
  return { key: keyWithName('gelf', name), fields };
}

/** The JSON text of a whole (not chunked) GELF payload: gzip, zlib or plain. */
export function gelfPayloadText(buf: Buffer): string | GelfProblem {
  const options = { maxOutputLength: GELF_MAX_MESSAGE_BYTES };
  try {
    if (buf[0] === 0x1f && buf[1] === 0x8b) return gunzipSync(buf, options).toString('utf8');
    // A zlib header: deflate (CM 8) and a check value that makes the first two bytes a multiple of 31.
    if (buf.length >= 2 && (buf[0] & 0x0f) === 8 && ((buf[0] << 8) | buf[1]) % 31 === 0) return inflateSync(buf, options).toString('utf8');
  } catch (err) {
    if (err instanceof RangeError || (err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') {
      return { malformed: 'too_long', detail: `a GELF message larger than ${GELF_MAX_MESSAGE_BYTES} bytes once decompressed` };
    }
    return { malformed: 'bad_compression', detail: `cannot decompress: ${(err as Error).message}` };
  }
  if (buf.length > GELF_MAX_MESSAGE_BYTES) return { malformed: 'too_long', detail: `a GELF message larger than ${GELF_MAX_MESSAGE_BYTES} bytes` };
  return buf.toString('utf8');
}

/** A chunked GELF datagram starts with these two bytes. */
export function isGelfChunk(buf: Buffer): boolean {
  return buf.length >= 2 && buf[0] === 0x1e && buf[1] === 0x0f;
}

const CHUNK_HEADER_BYTES = 12;
/** GELF allows at most 128 chunks a message. */
const MAX_CHUNKS = 128;

export interface GelfChunksOptions {
  /** An incomplete message is given up after this long (ms); GELF says 5 s. */
  timeoutMs?: number;
  /** At most this many messages and bytes wait for their other chunks; past that the oldest is given up. */
  maxMessages?: number;
  maxBytes?: number;
  /** A message given up (timed out or pushed out), told once. */
  incomplete(detail: string): void;
}

interface Partial {
  parts: Array<Buffer | undefined>;
  received: number;
  bytes: number;
  firstAt: number;
}

/**
 * Puts chunked GELF messages back together: each chunk is `1e 0f`, an 8-byte message id, its
 * sequence number and the chunk count (at most 128), then its part of the payload. Bounded in
 * messages and bytes; what never completes is counted, never kept.
 */
export class GelfChunks {
  private readonly pending = new Map<string, Partial>();
  private bytes = 0;
  private readonly timeoutMs: number;
  private readonly maxMessages: number;
  private readonly maxBytes: number;

  constructor(private readonly opts: GelfChunksOptions) {
    this.timeoutMs = opts.timeoutMs ?? 5000;
    this.maxMessages = opts.maxMessages ?? 1000;
    this.maxBytes = opts.maxBytes ?? 64 * 1024 * 1024;
  }

  /** Messages waiting for chunks. */
  get waiting(): number {
    return this.pending.size;
  }

  /** One chunk: the whole payload once its last chunk came, null while waiting, or a problem. */
  add(buf: Buffer, now = Date.now()): Buffer | null | GelfProblem {
    if (buf.length <= CHUNK_HEADER_BYTES) return { malformed: 'bad_chunk', detail: 'a GELF chunk without payload' };
    const id = buf.toString('hex', 2, 10);
    const seq = buf[10];
    const count = buf[11];
    if (count === 0 || count > MAX_CHUNKS || seq >= count) {
      return { malformed: 'bad_chunk', detail: `a GELF chunk numbered ${seq} of ${count} (at most ${MAX_CHUNKS})` };
    }
    const part = buf.subarray(CHUNK_HEADER_BYTES);
    let p = this.pending.get(id);
    if (!p) {
      if (count === 1) return part;
      p = { parts: new Array<Buffer | undefined>(count), received: 0, bytes: 0, firstAt: now };
      this.pending.set(id, p);
    } else if (p.parts.length !== count) {
      this.forget(id, p);
      return { malformed: 'bad_chunk', detail: `GELF chunks of one message disagree on their count (${p.parts.length} and ${count})` };
    }
    if (p.parts[seq] !== undefined) return null; // a repeated chunk
    p.parts[seq] = Buffer.from(part);
    p.received++;
    p.bytes += part.length;
    this.bytes += part.length;
    if (p.received === count) {
      this.forget(id, p);
      return Buffer.concat(p.parts as Buffer[]);
    }
    this.bound();
    return null;
  }

  /** Gives up the messages that waited longer than the timeout. */
  expire(now = Date.now()): void {
    for (const [id, p] of this.pending) {
      if (now - p.firstAt < this.timeoutMs) break; // in arrival order: the rest are younger
      this.forget(id, p);
      this.opts.incomplete(`a chunked GELF message got ${p.received} of ${p.parts.length} chunks in ${this.timeoutMs / 1000} s`);
    }
  }

  private bound(): void {
    for (const [id, p] of this.pending) {
      if (this.pending.size <= this.maxMessages && this.bytes <= this.maxBytes) return;
      this.forget(id, p);
      this.opts.incomplete(`a chunked GELF message was given up after ${p.received} of ${p.parts.length} chunks: more than ${this.maxMessages} messages or ${this.maxBytes} bytes waiting`);
    }
  }

  private forget(id: string, p: Partial): void {
    this.pending.delete(id);
    this.bytes -= p.bytes;
  }
}
