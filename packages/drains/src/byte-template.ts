import { isUtf8 } from 'node:buffer';
import { copyWords, MAX_WORD_COPY } from '@logyard/bus';
import { giveBlock, OUT_SLACK, takeBlock, type WireBatch } from './buffer.js';
import { CONTAINER, ESCAPED_STRING, isPlainInteger, LITERAL, NUMBER, PLAIN_STRING, TopLevelFieldBytes } from './event-bytes.js';
import type { Formatter } from './formats.js';

const NEWLINE = 0x0a;
/** Copies this short or shorter are a loop of bytes; longer ones four bytes at a time, up to MAX_WORD_COPY (copyWords). */
const SHORT_COPY = 16;
const NO_BYTES = Buffer.alloc(0);

/**
 * A template of top-level fields (`{{text}}`, `{{name}}@{{node_id}}: {{text}}`) run on the wire
 * lines a drain's buffer holds (`<key> <event JSON>\n`), writing the batch's output as bytes: a
 * string value without escapes is copied from the event to the output, and no string is made of
 * the event. The output is exactly what the string formatter `slow` gives for each event (decoded
 * from UTF-8, its line encoded again); an event whose bytes the scan is not sure of (not UTF-8,
 * JSON it declines) goes through `slow` itself.
 */
export class ByteTemplate {
  private readonly literals: Buffer[];
  /** Per placeholder: the index of its field among the scanner's names, or -1 for `{{key}}`. */
  private readonly slots: Int32Array;
  private readonly scanner: TopLevelFieldBytes | null;
  private readonly literalBytes: number;
  /** The output is `out[outStart, filled)`. */
  private out: Buffer = NO_BYTES;
  private outStart = 0;
  private filled = 0;
  /** Whether `out` is memory of the template's own (else the batch's block). */
  private ownsOut = false;
  /**
   * Whether `out` is the memory of the wire being formatted (its batch's block), where copyWithin
   * copies; known once per batch (reading `.buffer` of both per copy was a twentieth of a
   * syslog pipeline's time).
   */
  private outInWire = false;
  /** `out`, and the wire being formatted, as views for copyWords (no view made per copy). */
  private outView: DataView<ArrayBufferLike> = new DataView(NO_BYTES.buffer, 0, 0);
  private wire: Buffer = NO_BYTES;
  private wireView = this.outView;

  /** `fields`: per placeholder, a top-level field name, or null for `{{key}}`. */
  constructor(
    literals: readonly string[],
    fields: ReadonlyArray<string | null>,
    private readonly slow: Formatter,
  ) {
    this.literals = literals.map((literal) => Buffer.from(literal));
    const names = [...new Set(fields.filter((field): field is string => field !== null))];
    this.scanner = names.length > 0 ? new TopLevelFieldBytes(names) : null;
    this.slots = Int32Array.from(fields, (field) => (field === null ? -1 : names.indexOf(field)));
    this.literalBytes = this.literals.reduce((sum, literal) => sum + literal.length, 0);
  }

  /** What takeBytes keeps per event, besides the lines' own bytes, for the output of this template (see format). */
  get roomPerEvent(): number {
    return this.literalBytes + 1;
  }

  /**
   * The output of a batch's `count` wire lines (line i is `lineBytes[i]` long, its key
   * `keyBytes[i]`): written after them in the batch's own block when it has room (takeBytes with
   * roomPerEvent), where copyWithin copies a value with no view made per copy; else, or once
   * that room is short, in memory of the buffer pool. Give it back with `done` once written.
   */
  format(batch: Pick<WireBatch, 'block' | 'wire' | 'lineBytes' | 'keyBytes' | 'count'> & { knownValid?: Uint8Array }): Buffer {
    const { block, wire, lineBytes, keyBytes, count } = batch;
    const knownValid = batch.knownValid ?? new Uint8Array(count);
    // The lines are at the start of the block (takeBytes): the output follows them.
    const inBlock = wire.buffer === block.buffer && wire.byteOffset === block.byteOffset;
    this.wire = wire;
    this.scanner?.forgetBytes();
    this.wireView = new DataView(wire.buffer, wire.byteOffset, wire.length);
    if (inBlock) this.setOut(block, wire.length, false);
    else this.setOut(takeBlock(wire.length + count * this.roomPerEvent + OUT_SLACK), 0, true);
    // Once per batch: when it all is UTF-8, so is each line.
    const allUtf8 = isUtf8(wire);
    for (let i = 0, at = 0; i < count; at += lineBytes[i], i++) {
      const lineEnd = at + lineBytes[i];
      const keyEnd = at + keyBytes[i];
      const lineStart = this.filled;
      if ((allUtf8 || isUtf8(wire.subarray(at, lineEnd))) && this.formatLine(wire, at, keyEnd, keyEnd + 1, lineEnd - 1, knownValid[i] === 1)) continue;
      this.filled = lineStart;
      this.writeString(this.slow(wire.toString('utf8', at, keyEnd), wire.toString('utf8', keyEnd + 1, lineEnd - 1)));
    }
    const out = this.out.subarray(this.outStart, this.filled);
    this.setOut(NO_BYTES, 0, false);
    this.wire = NO_BYTES;
    return out;
  }

  /** After the output of format() was written: its memory goes back to the pool (unless it is in the batch's block, which goes back with the batch). */
  static done(out: Buffer, batch: Pick<WireBatch, 'block'>): void {
    if (out.buffer !== batch.block.buffer) giveBlock(Buffer.from(out.buffer, 0, out.buffer.byteLength));
  }

  /**
   * One event's line; false when the scan declines its JSON (what was written is then discarded).
   * `knownValid`: the event is known to be valid JSON as JSON.stringify writes it (EventBuffer),
   * so its fields are found without checking the rest of it (TopLevelFieldBytes.find).
   */
  private formatLine(wire: Buffer, keyStart: number, keyEnd: number, jsonStart: number, jsonEnd: number, knownValid: boolean): boolean {
    const scanner = this.scanner;
    if (scanner !== null && !(knownValid ? scanner.find(wire, jsonStart, jsonEnd) : scanner.scan(wire, jsonStart, jsonEnd))) return false;
    const lineStart = this.filled;
    const literals = this.literals;
    const slots = this.slots;
    this.writeBytes(literals[0], 0, literals[0].length);
    for (let i = 0; i < slots.length; i++) {
      const slot = slots[i];
      if (slot < 0) this.writeBytes(wire, keyStart, keyEnd);
      else if (!this.writeValue(wire, scanner!.found, slot * 3)) return false;
      const literal = literals[i + 1];
      this.writeBytes(literal, 0, literal.length);
    }
    // A template line ends with '\n' unless it already does.
    if (this.filled === lineStart || this.out[this.filled - 1] !== NEWLINE) {
      this.ensure(1);
      this.out[this.filled++] = NEWLINE;
    }
    return true;
  }

  /**
   * A field's value as the string formatter renders it: a string as it is, anything else as JSON.
   * False when its text does not parse: only a line marked known valid that is not (find() does not
   * check what it passes over; any local process may mark its batches, bus wire.ts), which then
   * goes the string path as an unmarked one does.
   */
  private writeValue(wire: Buffer, found: Int32Array, slot: number): boolean {
    const start = found[slot + 1];
    const end = found[slot + 2];
    switch (found[slot]) {
      case PLAIN_STRING:
        this.writeBytes(wire, start + 1, end - 1);
        return true;
      case ESCAPED_STRING: {
        const value = parsedOrUndefined(wire.toString('utf8', start, end));
        if (typeof value !== 'string') return false;
        this.writeString(value);
        return true;
      }
      case NUMBER:
        if (isPlainInteger(wire, start, end)) this.writeBytes(wire, start, end);
        else this.writeString(JSON.stringify(Number(wire.toString('latin1', start, end))));
        return true;
      case LITERAL:
        this.writeBytes(wire, start, end);
        return true;
      case CONTAINER: {
        const value = parsedOrUndefined(wire.toString('utf8', start, end));
        if (value === undefined) return false;
        this.writeString(JSON.stringify(value));
        return true;
      }
      default: // absent: empty
        return true;
    }
  }

  private writeBytes(src: Uint8Array, start: number, end: number): void {
    const n = end - start;
    this.ensure(n);
    const out = this.out;
    let at = this.filled;
    if (n <= SHORT_COPY) {
      for (let i = start; i < end; i++) out[at++] = src[i];
    } else if (src === this.wire && this.outInWire) {
      out.copyWithin(at, start, end);
    } else if (src === this.wire && n <= MAX_WORD_COPY) {
      copyWords(this.wireView, start, end, this.outView, at);
    } else {
      out.set(src.subarray(start, end), at);
    }
    this.filled += n;
  }

  private writeString(s: string): void {
    this.ensure(s.length * 3);
    this.filled += this.out.write(s, this.filled);
  }

  private ensure(bytes: number): void {
    const need = this.filled + bytes;
    if (need <= this.out.length) return;
    const written = this.filled - this.outStart;
    const bigger = takeBlock(Math.max(need - this.outStart, this.out.length * 2));
    this.out.copy(bigger, 0, this.outStart, this.filled);
    // The batch's block goes back with the batch.
    if (this.ownsOut) giveBlock(this.out);
    this.setOut(bigger, 0, true);
    this.filled = written;
  }

  private setOut(out: Buffer, start: number, owned: boolean): void {
    this.out = out;
    this.ownsOut = owned;
    this.outInWire = out.buffer === this.wire.buffer && out.byteOffset === this.wire.byteOffset;
    this.outStart = this.filled = start;
    this.outView = new DataView(out.buffer, out.byteOffset, out.length);
  }
}

/** JSON.parse of `text`, undefined when it is not JSON (a value JSON.parse gives is never undefined). */
function parsedOrUndefined(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}
