/** The ends of a frame's text: what framing leaves behind, and the byte fast path's escape check. */

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
 * The end of the text in `buf[start, end)`, without trailing CR, LF and NUL as `trimmedEnd`; -1
 * when the text has a byte JSON escapes (quote, backslash, control): such text takes the string
 * path. Other bytes pass unchanged into a JSON string once decoded: UTF-8 decoding never yields a
 * lone surrogate, the only other thing JSON.stringify escapes.
 */
export function plainTextEnd(buf: Buffer, start: number, end: number): number {
  while (end > start) {
    const c = buf[end - 1];
    if (c === 10 || c === 13 || c === 0) end--;
    else break;
  }
  if (buf !== wordsOf) {
    wordsOf = buf;
    words = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  }
  // Four bytes at a time (this loop ran over every byte of every line): a byte below 0x20, or
  // equal to '"' or '\\' (zero after the xor), sets the high bit of its lane in the test below.
  let i = start;
  for (; i + 4 <= end; i += 4) {
    const v = words.getUint32(i, true);
    const quote = v ^ 0x22222222;
    const backslash = v ^ 0x5c5c5c5c;
    if ((((v - 0x20202020) & ~v) | ((quote - 0x01010101) & ~quote) | ((backslash - 0x01010101) & ~backslash)) & 0x80808080) return -1;
  }
  for (; i < end; i++) {
    const c = buf[i];
    if (c < SP || c === 34 || c === 92) return -1;
  }
  return end;
}

/** The view plainTextEnd reads words through, kept for the buffer it was made for (a chunk has many lines). */
let wordsOf: Buffer | null = null;
let words: DataView<ArrayBufferLike> = new DataView(new ArrayBuffer(0));
