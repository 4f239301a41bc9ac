/**
 * Splits a byte stream into messages. Syslog over TCP and unix stream sockets comes in two
 * framings (RFC 6587): octet counting (`<length> <message>`) and non-transparent framing (one
 * message per line). Senders differ, and some switch, so the framing is detected per frame: a
 * frame that starts with digits and a space is octet-counted, anything else runs to the newline
 * (or, for syslog, to a NUL).
 */

export type FrameProblem = 'too_long' | 'bad_frame' | 'truncated_frame';

/** A message whole, or which piece of one handed over in pieces (see `splitBytes`). */
export type FramePiece = 'whole' | 'first' | 'more' | 'last';

export interface FrameSink {
  /** Called before the frames of each chunk pushed (and of the stream's end): the time they arrived. */
  begin?(): void;
  /** One message or piece: `buf[start, end)`, without its newline or length prefix. */
  frame(buf: Buffer, start: number, end: number, piece: FramePiece): void;
  problem(reason: FrameProblem): void;
}

export interface FrameDecoderOptions {
  /** Accept `<length> <message>` frames (syslog); false for newline-delimited JSON. */
  octetCounting: boolean;
  /**
   * A NUL also ends a message: glibc's syslog() over a unix stream socket and Python's
   * SysLogHandler over TCP end each one with NUL and no newline. Only a NUL at the end of what
   * came so far, or before the next message (`<` or an octet count), a newline or another NUL
   * ends one: a NUL inside a line is part of it.
   */
  nulTerminates?: boolean;
  /** Only a NUL ends a message, anywhere (GELF over TCP); newlines are part of it. */
  nulOnly?: boolean;
  /** The longest message handed over whole. */
  maxFrameBytes: number;
  /**
   * A longer message is handed over in pieces of at most this many bytes (cut between UTF-8
   * characters), as it arrives; without it, a longer message is dropped and counted as `too_long`.
   */
  splitBytes?: number;
}

const LF = 10;
const CR = 13;
const NUL = 0;
const SPACE = 32;
const LESS_THAN = 60;
/** At most this many digits in a length: 64 MiB needs 8; more is not a length. */
const MAX_LENGTH_DIGITS = 9;

export class FrameDecoder {
  private pending: Buffer | null = null;
  /** Dropping: bytes of a too long octet-counted frame still to skip. */
  private skipBytes = 0;
  /** Dropping: skipping the rest of a too long line, up to its end. */
  private skipLine = false;
  /** Splitting: a message is being handed over in pieces; the next one is 'more' or 'last'. */
  private splitting = false;
  /** Splitting: bytes still to come of the octet-counted frame being split; 0 when it is a line. */
  private countedLeft = 0;
  private readonly octetCounting: boolean;
  private readonly nulTerminates: boolean;
  private readonly nulOnly: boolean;
  private readonly maxFrame: number;
  private readonly splitBytes: number;
  private nulBuf: Buffer | null = null;
  private nulAt = -1;

  constructor(
    private readonly sink: FrameSink,
    options: FrameDecoderOptions,
  ) {
    this.octetCounting = options.octetCounting;
    this.nulOnly = options.nulOnly ?? false;
    this.nulTerminates = (options.nulTerminates ?? false) || this.nulOnly;
    this.maxFrame = options.maxFrameBytes;
    // A piece of at least a few bytes holds any UTF-8 character whole.
    this.splitBytes = options.splitBytes === undefined ? 0 : Math.max(8, Math.min(options.splitBytes, options.maxFrameBytes));
  }

  /** Bytes held for an incomplete frame. */
  get buffered(): number {
    return this.pending ? this.pending.length : 0;
  }

  push(chunk: Buffer): void {
    this.sink.begin?.();
    const lf = this.pending ? chunk.indexOf(LF) : -1;
    if (lf >= 0 && lf + 1 < chunk.length) {
      // A stream's chunks end mid-message: the held start of one is joined with the chunk up to its
      // first newline only, then the rest of the chunk is read where it is (joining the whole
      // chunk copied every byte received once more). What came so far still ends where it did.
      const held = this.pending!;
      this.pending = null;
      this.take(Buffer.concat([held, chunk.subarray(0, lf + 1)]));
      this.take(chunk.subarray(lf + 1));
    } else {
      this.take(chunk);
    }
  }

  /** The bytes of one push (or part of one): after what is held, if anything. */
  private take(chunk: Buffer): void {
    const buf = this.pending ? Buffer.concat([this.pending, chunk]) : chunk;
    this.pending = null;
    const len = buf.length;
    let pos = 0;
    while (pos < len) {
      if (this.skipBytes > 0) {
        const n = Math.min(this.skipBytes, len - pos);
        this.skipBytes -= n;
        pos += n;
        continue;
      }
      if (this.skipLine) {
        const nl = this.lineEnd(buf, pos, len);
        if (nl < 0) return;
        this.skipLine = false;
        pos = nl + 1;
        continue;
      }
      if (this.splitting) {
        const next = this.countedLeft > 0 ? this.nextCountedPiece(buf, pos, len) : this.nextLinePiece(buf, pos, len);
        if (next === WAIT) break;
        pos = next;
        continue;
      }
      const c = buf[pos];
      // Empty lines, and the newline some senders add after an octet-counted frame, are no messages.
      if (c === LF || c === CR || (c === NUL && this.nulTerminates)) {
        pos++;
        continue;
      }
      if (this.octetCounting && c >= 48 && c <= 57) {
        const r = this.octetFrame(buf, pos, len);
        if (r === WAIT) break;
        if (r !== NOT_COUNTED) {
          pos = r;
          continue;
        }
      }
      const nl = this.lineEnd(buf, pos, len);
      if ((nl < 0 ? len : nl) - pos > this.maxFrame) {
        pos = this.longLine(buf, pos, nl, len);
        continue;
      }
      if (nl < 0) break;
      this.sink.frame(buf, pos, nl > pos && buf[nl - 1] === CR ? nl - 1 : nl, 'whole');
      pos = nl + 1;
    }
    if (pos < len) this.pending = pos === 0 ? buf : buf.subarray(pos);
    this.nulBuf = null;
  }

  /** The stream ended: a last line without newline is still a message; half a counted frame is not. */
  end(): void {
    this.sink.begin?.();
    const rest = this.pending;
    this.pending = null;
    if (this.splitting) {
      this.splitting = false;
      if (this.countedLeft > 0) this.sink.problem('truncated_frame');
      else this.sink.frame(rest ?? Buffer.alloc(0), 0, rest ? rest.length : 0, 'last');
      return;
    }
    if (!rest || this.skipLine || this.skipBytes > 0) return;
    if (this.octetCounting && rest[0] >= 48 && rest[0] <= 57 && this.octetFrame(rest, 0, rest.length) === WAIT) {
      this.sink.problem('truncated_frame');
      return;
    }
    this.sink.frame(rest, 0, rest.length, 'whole');
  }

  /** A line longer than maxFrame at `pos` (its end at `nl`, or not here yet): its first piece, or dropped. */
  private longLine(buf: Buffer, pos: number, nl: number, len: number): number {
    if (this.splitBytes > 0) {
      this.splitting = true;
      this.countedLeft = 0;
      return this.piece(buf, pos, 'first');
    }
    this.sink.problem('too_long');
    if (nl >= 0) return nl + 1;
    this.skipLine = true;
    return len;
  }

  /** The next piece of a line being split: the last one once its end is here, else a full piece. */
  private nextLinePiece(buf: Buffer, pos: number, len: number): number {
    const nl = this.lineEnd(buf, pos, len);
    if (nl >= 0 && nl - pos <= this.splitBytes) {
      this.splitting = false;
      this.sink.frame(buf, pos, nl > pos && buf[nl - 1] === CR ? nl - 1 : nl, 'last');
      return nl + 1;
    }
    if (nl < 0 && len - pos <= this.splitBytes) return WAIT;
    return this.piece(buf, pos, 'more');
  }

  /** The next piece of an octet-counted frame being split, once its bytes are here. */
  private nextCountedPiece(buf: Buffer, pos: number, len: number): number {
    if (this.countedLeft <= this.splitBytes) {
      if (len - pos < this.countedLeft) return WAIT;
      const end = pos + this.countedLeft;
      this.splitting = false;
      this.countedLeft = 0;
      this.sink.frame(buf, pos, end, 'last');
      return end;
    }
    // One byte past the piece, to see whether the cut falls inside a UTF-8 character.
    if (len - pos <= this.splitBytes) return WAIT;
    const cut = this.piece(buf, pos, 'more');
    this.countedLeft -= cut - pos;
    return cut;
  }

  /**
   * Hands over splitBytes from `pos`, or a few less: to end between UTF-8 characters, and not
   * right after a CR, LF or NUL (which the parser of a first piece takes for framing leftovers).
   */
  private piece(buf: Buffer, pos: number, piece: FramePiece): number {
    let cut = pos + this.splitBytes;
    while (cut > pos && (buf[cut] & 0xc0) === 0x80) cut--;
    while (cut > pos && (buf[cut - 1] === LF || buf[cut - 1] === CR || buf[cut - 1] === NUL)) cut--;
    if (cut === pos) cut = pos + this.splitBytes; // no such place: cut anywhere
    this.sink.frame(buf, pos, cut, piece);
    return cut;
  }

  /**
   * Reads `<digits> <message>` at `pos`: the position after the frame (or after the first piece
   * of a too long one), WAIT when more bytes are needed, NOT_COUNTED when the digits are not
   * followed by a space (then it is a line).
   */
  private octetFrame(buf: Buffer, pos: number, len: number): number {
    let i = pos;
    let length = 0;
    while (i < len && i - pos < MAX_LENGTH_DIGITS) {
      const d = buf[i];
      if (d < 48 || d > 57) break;
      length = length * 10 + (d - 48);
      i++;
    }
    if (i === len) return i - pos < MAX_LENGTH_DIGITS ? WAIT : NOT_COUNTED;
    if (buf[i] !== SPACE) return NOT_COUNTED;
    const start = i + 1;
    if (length === 0) {
      this.sink.problem('bad_frame');
      return start;
    }
    if (length > this.maxFrame) {
      if (this.splitBytes > 0) {
        if (len - start <= this.splitBytes) return WAIT;
        this.splitting = true;
        const cut = this.piece(buf, start, 'first');
        this.countedLeft = length - (cut - start);
        return cut;
      }
      this.sink.problem('too_long');
      const available = len - start;
      if (available >= length) return start + length;
      this.skipBytes = length - available;
      return len;
    }
    if (len - start < length) return WAIT;
    this.sink.frame(buf, start, start + length, 'whole');
    return start + length;
  }

  private lineEnd(buf: Buffer, pos: number, len: number): number {
    if (this.nulOnly) return buf.indexOf(NUL, pos);
    const nl = buf.indexOf(LF, pos);
    if (!this.nulTerminates) return nl;
    // The next NUL is remembered per buffer, so a chunk of many lines is not scanned once per line.
    if (buf !== this.nulBuf || (this.nulAt >= 0 && this.nulAt < pos)) {
      this.nulBuf = buf;
      this.nulAt = endingNul(buf, pos, len);
    }
    const nul = this.nulAt;
    if (nul < 0) return nl;
    if (nl < 0) return nul;
    return Math.min(nl, nul);
  }
}

/**
 * The first NUL from `pos` that ends a message: the last byte so far, or one before what starts
 * a message or ends an empty one (`<`, a digit of an octet count, CR, LF, NUL).
 */
function endingNul(buf: Buffer, pos: number, len: number): number {
  for (let i = buf.indexOf(NUL, pos); i >= 0; i = buf.indexOf(NUL, i + 1)) {
    if (i + 1 >= len) return i;
    const next = buf[i + 1];
    if (next === LESS_THAN || next === LF || next === CR || next === NUL || (next >= 48 && next <= 57)) return i;
  }
  return -1;
}

const WAIT = -1;
const NOT_COUNTED = -2;

/**
 * Where the message in a datagram starts: after `<length> ` when the sender octet-counted it
 * (util-linux `logger --udp --octet-count` does) and the length is that of what follows, up to
 * trailing CR, LF and NUL; else 0 (a message that happens to start with digits stays whole).
 */
export function datagramMessageStart(buf: Buffer): number {
  let i = 0;
  let length = 0;
  while (i < buf.length && i < MAX_LENGTH_DIGITS && buf[i] >= 48 && buf[i] <= 57) {
    length = length * 10 + (buf[i] - 48);
    i++;
  }
  if (i === 0 || buf[i] !== SPACE || length === 0) return 0;
  const start = i + 1;
  const end = start + length;
  if (end > buf.length) return 0;
  for (let j = end; j < buf.length; j++) {
    if (buf[j] !== LF && buf[j] !== CR && buf[j] !== NUL) return 0;
  }
  return start;
}
