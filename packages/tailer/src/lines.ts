import { isUtf8 } from 'node:buffer';

export interface LineCounters {
  lines: number;
  /** Lines longer than max_line, split into several. */
  split: number;
  /** Lines with NUL bytes or invalid UTF-8, skipped. */
  binary: number;
}

/** A whole line, or the first or a later piece of one longer than maxLine. */
export type LinePart = 'whole' | 'first' | 'more';

/**
 * Takes lines as their bytes, `buf[start, end)` (valid UTF-8 without NUL, the `\r` before the
 * newline removed), instead of strings: `buf` is the splitter's and may be written over once
 * this returns.
 */
export type LineBytesHandler = (buf: Buffer, start: number, end: number, offset: number, part: LinePart) => void;

/**
 * Cuts a byte stream into lines: `\n` ends a line (a `\r` before it is removed); a line longer
 * than `maxLine` bytes is cut into pieces of at most `maxLine` bytes (never inside a UTF-8
 * character); a line with a NUL byte or invalid UTF-8 is counted as binary and skipped.
 * Each line is emitted with the stream offset of its first byte (`startOffset` is that of the
 * first byte pushed), so a reader that holds lines back knows where to resume.
 */
export class LineSplitter {
  private pending: Buffer = Buffer.alloc(0);
  /** Whether `pending` holds the continuation of a line already cut at max_line. */
  private continuing = false;
  /** The stream offset of pending[0]. */
  private offset: number;
  readonly counters: LineCounters = { lines: 0, split: 0, binary: 0 };

  /**
   * Lines go to `emit` as strings, or, when `emitBytes` is given, to it as bytes and never to
   * `emit` (a client that writes them into events as bytes is spared decoding them).
   */
  constructor(
    readonly maxLine: number,
    private readonly emit: (line: string, offset: number, part: LinePart) => void,
    startOffset = 0,
    private readonly emitBytes?: LineBytesHandler,
  ) {
    this.offset = startOffset;
  }

  /** Bytes received but not yet emitted (an unfinished line). */
  get pendingBytes(): number {
    return this.pending.length;
  }

  /** Forgets what is pending; the stream goes on at `offset`. */
  reset(offset = 0): void {
    this.pending = Buffer.alloc(0);
    this.continuing = false;
    this.offset = offset;
  }

  push(chunk: Buffer): void {
    const buf = this.pending.length ? Buffer.concat([this.pending, chunk]) : chunk;
    const base = this.offset;
    const lastNl = buf.lastIndexOf(10);
    let start = 0;
    if (lastNl >= 0) {
      const region = buf.subarray(0, lastNl);
      const clean = !this.continuing && region.indexOf(0) < 0 && isUtf8(region);
      const text = clean && !this.emitBytes ? region.toString('utf8') : null;
      // The fast path: a whole region of text, decoded once (an ASCII one needs no byte counting).
      if (text !== null) {
        const ascii = text.length === region.length;
        let pos = 0;
        let bytePos = 0;
        for (;;) {
          const nl = text.indexOf('\n', pos);
          const end = nl < 0 ? text.length : nl;
          const lineEnd = end > pos && text.charCodeAt(end - 1) === 13 ? end - 1 : end;
          const s = text.slice(pos, lineEnd);
          const bytes = ascii ? s.length : Buffer.byteLength(s);
          if (bytes <= this.maxLine) this.line(s, base + bytePos);
          else this.longLine(region.subarray(bytePos, bytePos + bytes), base + bytePos, false);
          if (nl < 0) break;
          bytePos += bytes + (end - lineEnd) + 1;
          pos = nl + 1;
        }
      } else if (clean) {
        // The same for a client that takes bytes: the lines of the region as they are.
        for (;;) {
          const nl = region.indexOf(10, start);
          const end = nl < 0 ? region.length : nl;
          const lineEnd = end > start && region[end - 1] === 13 ? end - 1 : end;
          if (lineEnd - start <= this.maxLine) this.lineBytes(region, start, lineEnd, base + start, 'whole');
          else this.longLine(region.subarray(start, lineEnd), base + start, false);
          if (nl < 0) break;
          start = nl + 1;
        }
      } else {
        while (start <= lastNl) {
          const nl = buf.indexOf(10, start);
          this.bytesLine(buf.subarray(start, nl), base + start);
          start = nl + 1;
        }
      }
      start = lastNl + 1;
    }
    let rest = buf.subarray(start);
    // An unfinished line that is already too long: emit full pieces now.
    while (rest.length > this.maxLine) {
      const cut = cutPoint(rest, this.maxLine);
      this.piece(rest.subarray(0, cut), base + start, this.continuing ? 'more' : 'first');
      this.counters.split++;
      this.continuing = true;
      rest = rest.subarray(cut);
      start += cut;
    }
    this.offset = base + start;
    this.pending = rest.length ? Buffer.from(rest) : Buffer.alloc(0);
  }

  /** Emits what is pending as a last line (the file is closed for good). */
  end(): void {
    const offset = this.offset + this.pending.length;
    if (this.pending.length) this.bytesLine(this.pending, this.offset);
    this.reset(offset);
  }

  private bytesLine(bytes: Buffer, offset: number): void {
    let b = bytes;
    if (b.length && b[b.length - 1] === 13) b = b.subarray(0, b.length - 1);
    const lastPiece = this.continuing;
    if (this.continuing && b.length === 0) {
      this.continuing = false;
      return;
    }
    this.continuing = false;
    if (b.indexOf(0) >= 0 || !isUtf8(b)) {
      this.counters.binary++;
      return;
    }
    if (b.length > this.maxLine) this.longLine(b, offset, lastPiece);
    else this.lineBytes(b, 0, b.length, offset, lastPiece ? 'more' : 'whole');
  }

  private longLine(b: Buffer, offset: number, continued: boolean): void {
    this.counters.split++;
    let part: LinePart = continued ? 'more' : 'first';
    while (b.length > this.maxLine) {
      const cut = cutPoint(b, this.maxLine);
      this.piece(b.subarray(0, cut), offset, part);
      part = 'more';
      b = b.subarray(cut);
      offset += cut;
    }
    if (b.length) this.piece(b, offset, part);
  }

  private piece(b: Buffer, offset: number, part: LinePart): void {
    if (b.indexOf(0) >= 0 || !isUtf8(b)) {
      this.counters.binary++;
      return;
    }
    this.lineBytes(b, 0, b.length, offset, part);
  }

  private line(text: string, offset: number): void {
    this.counters.lines++;
    this.emit(text, offset, 'whole');
  }

  /** A line or piece checked to be text: to the client as bytes, or decoded. */
  private lineBytes(b: Buffer, start: number, end: number, offset: number, part: LinePart): void {
    this.counters.lines++;
    if (this.emitBytes) this.emitBytes(b, start, end, offset, part);
    else this.emit(b.toString('utf8', start, end), offset, part);
  }
}

/** `text` cut into pieces of at most `maxBytes` UTF-8 bytes, never inside a character. */
export function splitText(text: string, maxBytes: number): string[] {
  if (text.length * 3 <= maxBytes) return [text];
  let b = Buffer.from(text, 'utf8');
  if (b.length <= maxBytes) return [text];
  const pieces: string[] = [];
  while (b.length > maxBytes) {
    const cut = cutPoint(b, maxBytes);
    pieces.push(b.toString('utf8', 0, cut));
    b = b.subarray(cut);
  }
  if (b.length) pieces.push(b.toString('utf8'));
  return pieces;
}

/** The largest cut <= max that does not split a UTF-8 character. */
function cutPoint(b: Buffer, max: number): number {
  let cut = max;
  while (cut > 0 && (b[cut] & 0xc0) === 0x80) cut--;
  return cut === 0 ? max : cut;
}
