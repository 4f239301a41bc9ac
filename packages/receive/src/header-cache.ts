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
   */
  getBytes(buf: Buffer, start: number, end: number): T | undefined {
    const limit = Math.min(end - 1, start + MAX_CACHED_HEADER + 1);
    for (let i = start; i < limit; i++) {
      const c = buf[i];
      if (c >= 0x80) return undefined;
      if (c === COLON && buf[i + 1] === SP) {
        const value = this.entries.get(buf.toString('latin1', start, i + 2));
        if (value !== undefined) this.textStart = i + 2;
        return value;
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
    if (this.entries.size >= this.maxEntries) this.entries.clear();
    this.entries.set(line.slice(0, textStart), value);
  }

  /** The text of `line` after the header `get` found. */
  text(line: string): string {
    return line.slice(this.textStart, trimmedEnd(line));
  }
}
