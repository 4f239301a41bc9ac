import type { SyslogMessage } from './syslog.js';
import { trimmedEnd } from './text-bytes.js';

const SP = 32;
const COLON = 58;
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
   * offset. Headers with bytes outside ASCII are left to `get` (byte and character offsets differ).
   * The header is hashed while it is scanned for its `: ` and compared byte for byte: no string is
   * made of it (this ran for every line).
   */
  getBytes(buf: Buffer, start: number, end: number): T | undefined {
    const limit = Math.min(end - 1, start + MAX_CACHED_HEADER + 1);
    let hash = HASH_SEED;
    for (let i = start; i < limit; i++) {
      const c = buf[i];
      if (c >= 0x80) return undefined;
      hash = Math.imul(hash ^ c, HASH_PRIME);
      if (c === COLON && buf[i + 1] === SP) {
        const textStart = i + 2;
        for (let e: ByteEntry<T> | null | undefined = this.byHash.get(smallHash(Math.imul(hash ^ SP, HASH_PRIME))); e; e = e.next) {
          if (sameBytes(e.header, buf, start, textStart)) {
            this.textStart = textStart;
            return e.value;
          }
        }
        return undefined;
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
    let hash = HASH_SEED;
    for (const c of bytes) hash = Math.imul(hash ^ c, HASH_PRIME);
    const key = smallHash(hash);
    this.byHash.set(key, { header: bytes, value, next: this.byHash.get(key) ?? null });
  }

  /** The text of `line` after the header `get` found. */
  text(line: string): string {
    return line.slice(this.textStart, trimmedEnd(line));
  }
}

interface ByteEntry<T> {
  header: Buffer;
  value: T;
  /** Another header with the same hash. */
  next: ByteEntry<T> | null;
}

const ASCII_RE = /^[\x00-\x7f]*$/;
/** FNV-1a, 32 bits. */
const HASH_SEED = 0x811c9dc5;
const HASH_PRIME = 0x01000193;

/** The hash cut to 30 bits: a small integer is a Map key without a heap number per lookup. */
function smallHash(hash: number): number {
  return hash & 0x3fffffff;
}

function sameBytes(header: Buffer, buf: Buffer, start: number, end: number): boolean {
  if (header.length !== end - start) return false;
  for (let i = 0; i < header.length; i++) if (header[i] !== buf[start + i]) return false;
  return true;
}
