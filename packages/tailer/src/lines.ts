import { isUtf8 } from 'node:buffer';

export interface LineCounters {
  lines: number;
  /** Lines longer than max_line, split into several. */
  split: number;
  /** Lines with NUL bytes or invalid UTF-8, skipped. */
  binary: number;
}

/**
 * Cuts a byte stream into lines: `\n` ends a line (a `\r` before it is removed); a line longer
 * than `maxLine` bytes is cut into pieces of at most `maxLine` bytes (never inside a UTF-8
 * character); a line with a NUL byte or invalid UTF-8 is counted as binary and skipped.
 */
export class LineSplitter {
  private pending: Buffer = Buffer.alloc(0);
  /** Whether `pending` holds the continuation of a line already cut at max_line. */
  private continuing = false;
  readonly counters: LineCounters = { lines: 0, split: 0, binary: 0 };

  constructor(
    readonly maxLine: number,
    private readonly emit: (line: string) => void,
  ) {}

  /** Bytes received but not yet emitted (an unfinished line). */
  get pendingBytes(): number {
    return this.pending.length;
  }

  reset(): void {
    this.pending = Buffer.alloc(0);
    this.continuing = false;
  }

  push(chunk: Buffer): void {
    const buf = this.pending.length ? Buffer.concat([this.pending, chunk]) : chunk;
    const lastNl = buf.lastIndexOf(10);
    let start = 0;
    if (lastNl >= 0) {
      const region = buf.subarray(0, lastNl);
      // The fast path: a whole region of text, decoded once.
      if (!this.continuing && region.indexOf(0) < 0 && isUtf8(region)) {
        const text = region.toString('utf8');
        const limitChars = Math.floor(this.maxLine / 3);
        let pos = 0;
        for (;;) {
          const nl = text.indexOf('\n', pos);
          const end = nl < 0 ? text.length : nl;
          const lineEnd = end > pos && text.charCodeAt(end - 1) === 13 ? end - 1 : end;
          if (lineEnd - pos <= limitChars) this.line(text.slice(pos, lineEnd));
          else {
            const s = text.slice(pos, lineEnd);
            if (s.length <= this.maxLine && Buffer.byteLength(s) <= this.maxLine) this.line(s);
            else this.longLine(Buffer.from(s, 'utf8'));
          }
          if (nl < 0) break;
          pos = nl + 1;
        }
      } else {
        while (start <= lastNl) {
          const nl = buf.indexOf(10, start);
          this.bytesLine(buf.subarray(start, nl));
          start = nl + 1;
        }
      }
      start = lastNl + 1;
    }
    let rest = buf.subarray(start);
    // An unfinished line that is already too long: emit full pieces now.
    while (rest.length > this.maxLine) {
      const cut = cutPoint(rest, this.maxLine);
      this.piece(rest.subarray(0, cut));
      this.counters.split++;
      this.continuing = true;
      rest = rest.subarray(cut);
    }
    this.pending = rest.length ? Buffer.from(rest) : Buffer.alloc(0);
  }

  /** Emits what is pending as a last line (the file is closed for good). */
  end(): void {
    if (this.pending.length) this.bytesLine(this.pending);
    this.reset();
  }

  private bytesLine(bytes: Buffer): void {
    let b = bytes;
    if (b.length && b[b.length - 1] === 13) b = b.subarray(0, b.length - 1);
    if (this.continuing && b.length === 0) {
      this.continuing = false;
      return;
    }
    this.continuing = false;
    if (b.indexOf(0) >= 0 || !isUtf8(b)) {
      this.counters.binary++;
      return;
    }
    if (b.length > this.maxLine) this.longLine(b);
    else this.line(b.toString('utf8'));
  }

  private longLine(b: Buffer): void {
    this.counters.split++;
    while (b.length > this.maxLine) {
      const cut = cutPoint(b, this.maxLine);
      this.piece(b.subarray(0, cut));
      b = b.subarray(cut);
    }
    if (b.length) this.piece(b);
  }

  private piece(b: Buffer): void {
    if (b.indexOf(0) >= 0 || !isUtf8(b)) {
      this.counters.binary++;
      return;
    }
    this.line(b.toString('utf8'));
  }

  private line(text: string): void {
    this.counters.lines++;
    this.emit(text);
  }
}

/** The largest cut <= max that does not split a UTF-8 character. */
function cutPoint(b: Buffer, max: number): number {
  let cut = max;
  while (cut > 0 && (b[cut] & 0xc0) === 0x80) cut--;
  return cut === 0 ? max : cut;
}
