/** The ends of a frame's text: what framing leaves behind, and the byte fast path's escape check. */
import { isUtf8 } from 'node:buffer';

const SP = 32;

/** The length of `line` without trailing CR, LF and NUL (framing leftovers). */
export function trimmedEnd(line: string): number {
  let end = line.length;
  for (;;) {
    const c = line.charCodeAt(end - 1);
    if (c === 10 || c === 13 || c === 0) end--;
    else return end;
  }
}

/**
 * The end of the text in `buf[start, end)`, without trailing CR, LF and NUL as `trimmedEnd`, when
 * its bytes can stand as they are between the quotes of a JSON string; -1 when the text has a
 * byte JSON escapes (quote, backslash, control) or is not valid UTF-8 (decoding replaces what is
 * not): such text takes the string path. Valid UTF-8 never encodes a lone surrogate, the only
 * other thing JSON.stringify escapes.
 */
export function plainTextEnd(buf: Buffer, start: number, end: number): number {
  end = textBytesEnd(buf, start, end);
  const words = wordsOf(buf);
  // Four bytes at a time (this loop ran over every byte of every line): in a word of ASCII bytes,
  // a byte below 0x20, or equal to '"' or '\\' (zero after the xor), and only such a byte, sets
  // the high bit of its lane in the test below (no lane borrows from the next unless one does).
  // A word with a byte of 0x80 or more is checked byte by byte.
  let i = start;
  let ascii = true;
  for (; i + 4 <= end; i += 4) {
    const v = words.getInt32(i, true);
    if (v & 0x80808080) {
      ascii = false;
      for (let j = i; j < i + 4; j++) if (needsEscape(buf[j])) return -1;
      continue;
    }
    if (((v - 0x20202020) | ((v ^ 0x22222222) - 0x01010101) | ((v ^ 0x5c5c5c5c) - 0x01010101)) & 0x80808080) return -1;
  }
  for (; i < end; i++) {
    const c = buf[i];
    if (needsEscape(c)) return -1;
    if (c >= 0x80) ascii = false;
  }
  return ascii || isUtf8(buf.subarray(start, end)) ? end : -1;
}

/** `end` without the trailing CR, LF and NUL of `buf[start, end)` (framing leftovers), as trimmedEnd. */
export function textBytesEnd(buf: Buffer, start: number, end: number): number {
  while (end > start) {
    const c = buf[end - 1];
    if (c === 10 || c === 13 || c === 0) end--;
    else break;
  }
  return end;
}


function needsEscape(c: number): boolean {
  return c < SP || c === 34 || c === 92;
}

/**
 * A view of `buf` to read four bytes at a time through, kept for the buffer it was last made for
 * (a chunk has many lines, each read several times).
 */
export function wordsOf(buf: Buffer): DataView<ArrayBufferLike> {
  if (buf !== viewed) {
    viewed = buf;
    view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  }
  return view;
}

let viewed: Buffer | null = null;
let view: DataView<ArrayBufferLike> = new DataView(new ArrayBuffer(0));

/**
 * Cuts the content of a JSON string (what stands between its quotes) into pieces of at most
 * `maxBytes` UTF-8 bytes each, never inside an escape (`\n`, `\u0000`) nor a surrogate pair, so
 * that each piece is the content of a JSON string too. `maxBytes` must be at least 6.
 */
export function cutJsonStringContent(content: string, maxBytes: number): string[] {
  const pieces: string[] = [];
  let from = 0;
  let bytes = 0;
  let i = 0;
  while (i < content.length) {
    const c = content.charCodeAt(i);
    let units = 1;
    let size: number;
    if (c === 92 /* \ */) {
      units = content.charCodeAt(i + 1) === 117 /* u */ ? 6 : 2;
      size = units;
    } else if (c < 0x80) {
      size = 1;
    } else if (c < 0x800) {
      size = 2;
    } else if (c >= 0xd800 && c <= 0xdbff && i + 1 < content.length) {
      const next = content.charCodeAt(i + 1);
      units = next >= 0xdc00 && next <= 0xdfff ? 2 : 1;
      size = units === 2 ? 4 : 3;
    } else {
      size = 3;
    }
    if (bytes + size > maxBytes) {
      pieces.push(content.slice(from, i));
      from = i;
      bytes = 0;
    }
    bytes += size;
    i += units;
  }
  if (from < content.length || pieces.length === 0) pieces.push(content.slice(from));
  return pieces;
}
