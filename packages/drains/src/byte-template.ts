import { isUtf8 } from 'node:buffer';
import { giveBlock, takeBlock } from './buffer.js';
import { CONTAINER, ESCAPED_STRING, isPlainInteger, LITERAL, NUMBER, PLAIN_STRING, TopLevelFieldBytes } from './event-bytes.js';
import type { Formatter } from './formats.js';

const NEWLINE = 0x0a;
/** Copies this short or shorter are a loop: Buffer#copy makes a view per call, dearer than the copy. */
const SHORT_COPY = 48;

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
  private out: Buffer = Buffer.alloc(0);
  private filled = 0;

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

  /**
   * The output of `count` wire lines in `wire` (line i is `lineBytes[i]` long, its key
   * `keyBytes[i]`), in memory of the buffer pool: give it back with `done` once written.
   */
  format(wire: Buffer, lineBytes: Int32Array, keyBytes: Int32Array, count: number): Buffer {
    this.out = takeBlock(wire.length + count * (this.literalBytes + 1) + 64);
    this.filled = 0;
    // Once per batch: when it all is UTF-8, so is each line.
    const allUtf8 = isUtf8(wire);
    for (let i = 0, at = 0; i < count; at += lineBytes[i], i++) {
      const lineEnd = at + lineBytes[i];
      const keyEnd = at + keyBytes[i];
      const lineStart = this.filled;
      if ((allUtf8 || isUtf8(wire.subarray(at, lineEnd))) && this.formatLine(wire, at, keyEnd, keyEnd + 1, lineEnd - 1)) continue;
      this.filled = lineStart;
      this.writeString(this.slow(wire.toString('utf8', at, keyEnd), wire.toString('utf8', keyEnd + 1, lineEnd - 1)));
    }
    const out = this.out.subarray(0, this.filled);
    this.out = Buffer.alloc(0);
    return out;
  }

  /** After the output of format() was written: its memory goes back to the pool. */
  static done(out: Buffer): void {
    giveBlock(Buffer.from(out.buffer, 0, out.buffer.byteLength));
  }

  /** One event's line; false when the scan declines its JSON (what was written is then discarded). */
  private formatLine(wire: Buffer, keyStart: number, keyEnd: number, jsonStart: number, jsonEnd: number): boolean {
    const scanner = this.scanner;
    if (scanner !== null && !scanner.scan(wire, jsonStart, jsonEnd)) return false;
    const lineStart = this.filled;
    const literals = this.literals;
    const slots = this.slots;
    this.writeBytes(literals[0], 0, literals[0].length);
    for (let i = 0; i < slots.length; i++) {
      const slot = slots[i];
      if (slot < 0) this.writeBytes(wire, keyStart, keyEnd);
      else this.writeValue(wire, scanner!.found, slot * 3);
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

  /** A field's value as the string formatter renders it: a string as it is, anything else as JSON. */
  private writeValue(wire: Buffer, found: Int32Array, slot: number): void {
    const start = found[slot + 1];
    const end = found[slot + 2];
    switch (found[slot]) {
      case PLAIN_STRING:
        this.writeBytes(wire, start + 1, end - 1);
        return;
      case ESCAPED_STRING:
        this.writeString(JSON.parse(wire.toString('utf8', start, end)) as string);
        return;
      case NUMBER:
        if (isPlainInteger(wire, start, end)) this.writeBytes(wire, start, end);
        else this.writeString(JSON.stringify(Number(wire.toString('latin1', start, end))));
        return;
      case LITERAL:
        this.writeBytes(wire, start, end);
        return;
      case CONTAINER:
        this.writeString(JSON.stringify(JSON.parse(wire.toString('utf8', start, end))));
        return;
      default: // absent: empty
    }
  }

  private writeBytes(src: Uint8Array, start: number, end: number): void {
    const n = end - start;
    this.ensure(n);
    const out = this.out;
    let at = this.filled;
    if (n <= SHORT_COPY) {
      for (let i = start; i < end; i++) out[at++] = src[i];
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
    const bigger = takeBlock(Math.max(need, this.out.length * 2));
    this.out.copy(bigger, 0, 0, this.filled);
    giveBlock(this.out);
    this.out = bigger;
  }
}
