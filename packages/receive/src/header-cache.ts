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
  private readonly byHash: Array<ByteEntry<T> | null>;
  /** Where the text of the line last found begins. */
  textStart = 0;

  constructor(private readonly maxEntries = 4096) {
    // A table of twice the entries' slots, chained: an index where a Map lookup per line cost more than comparing the header.
    this.byHash = new Array<ByteEntry<T> | null>(hashSlots(maxEntries)).fill(null);
  }

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
   * string is made of the header: one pass over it, four bytes at a time, finds its `: ` and
   * hashes it, and a match is compared four bytes at a time (this ran for every line: 270 ns a
   * line byte by byte, in the receive benchmark).
   */
  getBytes(buf: Buffer, start: number, end: number): T | undefined {
    const words = wordsOf(buf);
    const textStart = scanHeader(words, start, Math.min(end, start + MAX_CACHED_HEADER + 2));
    if (textStart < 0) return undefined;
    for (let e = this.byHash[scannedHash & (this.byHash.length - 1)]; e !== null; e = e.next) {
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
      this.byHash.fill(null);
    }
    const header = line.slice(0, textStart);
    this.entries.set(header, value);
    if (!ASCII_RE.test(header)) return;
    const bytes = Buffer.from(header, 'latin1');
    const words = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
    if (scanHeader(words, 0, bytes.length) !== bytes.length) return;
    const slot = scannedHash & (this.byHash.length - 1);
    this.byHash[slot] = { words, value, next: this.byHash[slot] };
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

const ASCII_RE = /^[\x00-\x7f]*$/;

/** A power of two, at least twice `entries`. */
function hashSlots(entries: number): number {
  let slots = 16;
  while (slots < entries * 2) slots *= 2;
  return slots;
}
const HASH_PRIME = 0x01000193;
const COLON = 0x3a;
const SPACE = 0x20;
const COLONS = 0x3a3a3a3a;
const ONES = 0x01010101;
const HIGHS = 0x80808080;

const SPACES = 0x20202020;
const LOWS = 0x7f7f7f7f;

/** The high bit of each byte of `x` that is zero, and no other bit. */
function zeroBytes(x: number): number {
  return ~(((x & LOWS) + LOWS) | x | LOWS);
}

/** The hash of the header scanHeader found last. */
let scannedHash = 0;

/**
 * Finds the first `: ` in the bytes `[start, end)` of `words`: returns the offset after it (-1
 * when there is none) and leaves in `scannedHash` a hash of the bytes up to there. Four bytes at a
 * time: a word without a colon (most of a header) is hashed whole; in one with a colon, each colon
 * is looked at. The hash is cut to 30 bits: a small integer is a Map key without a heap number.
 */
function scanHeader(words: DataView, start: number, end: number): number {
  let hash = 0;
  let i = start;
  for (; i + 4 <= end; i += 4) {
    const v = words.getInt32(i, true);
    const x = v ^ COLONS;
    if (((x - ONES) & ~x & HIGHS) !== 0) {
      // A colon in this word (the test is exact about whether there is one): is one of them ': '?
      // The four bytes after each of its bytes, as a word, tell at once (a timestamp's colons are not).
      if (i + 5 <= end) {
        const pairs = zeroBytes(x) & zeroBytes(words.getInt32(i + 1, true) ^ SPACES);
        if (pairs !== 0) return headerFound(hash, words, i, i + ((31 - Math.clz32(pairs & -pairs)) >> 3) + 2);
      } else {
        for (let k = i; k < i + 4; k++) {
          if (words.getUint8(k) === COLON && k + 1 < end && words.getUint8(k + 1) === SPACE) return headerFound(hash, words, i, k + 2);
        }
      }
    }
    hash = Math.imul(hash ^ v, HASH_PRIME);
  }
  // The last bytes, fewer than a word: hashed from the first, as the word that holds them above.
  for (const from = i; i + 1 < end; i++) {
    if (words.getUint8(i) === COLON && words.getUint8(i + 1) === SPACE) return headerFound(hash, words, from, i + 2);
  }
  return -1;
}

/** The header ends at `end`: the bytes from `from` are hashed one by one. */
function headerFound(hash: number, words: DataView, from: number, end: number): number {
  for (let i = from; i < end; i++) hash = Math.imul(hash ^ words.getUint8(i), HASH_PRIME);
  scannedHash = (hash ^ (hash >>> 15)) & 0x3fffffff;
  return end;
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
