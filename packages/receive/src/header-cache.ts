import type { SyslogMessage } from './syslog.js';
import { trimmedEnd, wordsOf } from './text-bytes.js';

/** Where the `: ` ending a cached header may be at the latest. */
const MAX_CACHED_HEADER = 512;

/**
 * Remembers what RFC 3164 headers parse to, so the lines of a busy sender (whose header only
 * changes once a second) skip the parser. Only headers that end with the tag's `: ` at the first
 * `: ` of the line are kept: everything in them, and nothing after, decides the parse, so a line
 * starting with the same header parses to the same fields.
 */
export class SyslogHeaderCache<T> {
  private readonly entries = new Map<string, T>();
  /** The same entries by a hash of their bytes (ASCII headers only), for `getBytes`. */
  private readonly byHash = new Map<number, ByteEntry<T>>();
  /** Where the text of the line last found begins. */
  textStart = 0;
  /** The first `: ` at or after the line being looked up, in the buffer it was searched in (its length when none). */
  private colonIn: Buffer | null = null;
  private colonAt = 0;

  constructor(private readonly maxEntries = 4096) {}

  get(line: string): T | undefined {
    const colon = line.indexOf(': ');
    if (colon < 0 || colon > MAX_CACHED_HEADER) return undefined;
    const value = this.entries.get(line.slice(0, colon + 2));
    if (value !== undefined) this.textStart = colon + 2;
    return value;
  }

  /**
   * `get` for the message in `buf[start, end)`, before it is decoded: `textStart` is then a byte
   * offset. Only ASCII headers are kept for it (byte and character offsets differ otherwise). No
   * string is made of the header: its `: ` is found by a search that is remembered for the chunk
   * (lines without one do not each search the rest of it), its bytes hashed and compared four at a
   * time (this ran for every line: 270 ns a line byte by byte, in the receive benchmark).
   */
  getBytes(buf: Buffer, start: number, end: number): T | undefined {
    if (buf !== this.colonIn || this.colonAt < start) {
      this.colonIn = buf;
      this.colonAt = buf.indexOf(COLON_SPACE, start);
      if (this.colonAt < 0) this.colonAt = buf.length;
    }
    const textStart = this.colonAt + 2;
    if (textStart > end || textStart - start > MAX_CACHED_HEADER + 2) return undefined;
    const words = wordsOf(buf);
    for (let e: ByteEntry<T> | null | undefined = this.byHash.get(headerHash(words, start, textStart)); e; e = e.next) {
      if (sameBytes(e.words, words, start, textStart)) {
        this.textStart = textStart;
        return e.value;
      }
    }
    return undefined;
  }

  /** Keeps `value` for the header of `line`, which parsed to `m`, when it is safe to. */
  set(line: string, m: SyslogMessage, value: T): void {
    if (m.appname === null || m.msgid !== null || m.structuredData !== null) return;
    const textStart = trimmedEnd(line) - m.text.length;
    if (line.indexOf(': ') + 2 !== textStart) return;
    // A sender whose headers never repeat (a changing pid) must not grow the map without end.
    if (this.entries.size >= this.maxEntries) {
      this.entries.clear();
      this.byHash.clear();
    }
    const header = line.slice(0, textStart);
    this.entries.set(header, value);
    if (!ASCII_RE.test(header)) return;
    const bytes = Buffer.from(header, 'latin1');
    const words = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
    const key = headerHash(words, 0, bytes.length);
    this.byHash.set(key, { words, value, next: this.byHash.get(key) ?? null });
  }

  /** The text of `line` after the header `get` found. */
  text(line: string): string {
    return line.slice(this.textStart, trimmedEnd(line));
  }
}

interface ByteEntry<T> {
  /** The header's bytes. */
  words: DataView;
  value: T;
  /** Another header with the same hash. */
  next: ByteEntry<T> | null;
}

const COLON_SPACE = Buffer.from(': ');
const ASCII_RE = /^[\x00-\x7f]*$/;
const HASH_PRIME = 0x01000193;

/**
 * A hash of the bytes `[start, end)` of `words`, four at a time, cut to 30 bits: a small integer
 * is a Map key without a heap number per lookup.
 */
function headerHash(words: DataView, start: number, end: number): number {
  let hash = end - start;
  let i = start;
  for (; i + 4 <= end; i += 4) hash = Math.imul(hash ^ words.getInt32(i, true), HASH_PRIME);
  for (; i < end; i++) hash = Math.imul(hash ^ words.getUint8(i), HASH_PRIME);
  return (hash ^ (hash >>> 15)) & 0x3fffffff;
}

/** Whether `header` holds the bytes `[start, end)` of `words`. */
function sameBytes(header: DataView, words: DataView, start: number, end: number): boolean {
  const length = header.byteLength;
  if (length !== end - start) return false;
  let i = 0;
  for (; i + 4 <= length; i += 4) if (header.getInt32(i, true) !== words.getInt32(start + i, true)) return false;
  for (; i < length; i++) if (header.getUint8(i) !== words.getUint8(start + i)) return false;
  return true;
}
