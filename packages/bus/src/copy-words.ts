/** Pieces up to this long are copied by copyWords; longer ones by Buffer#copy. */
export const MAX_WORD_COPY = 2048;

/**
 * Copies the bytes `[start, end)` of `src` into `dst` at `at`, four at a time; returns their
 * number. For a log line's text this takes two thirds of the time of Buffer#copy, which makes a
 * view of the source per call (garbage to collect, per event).
 */
export function copyWords(src: DataView, start: number, end: number, dst: DataView, at: number): number {
  const n = end - start;
  let i = 0;
  for (; i + 8 <= n; i += 8) {
    dst.setInt32(at + i, src.getInt32(start + i, true), true);
    dst.setInt32(at + i + 4, src.getInt32(start + i + 4, true), true);
  }
  for (; i < n; i++) dst.setUint8(at + i, src.getUint8(start + i));
  return n;
}

/**
 * copyWords for text that is plain ASCII, the usual log line: each word is checked as it is
 * copied (one pass over the bytes, where a check before the copy made two). Returns the bytes
 * copied, or -1 as soon as one is not plain: 0x80 or more, below 0x20, a quote or a backslash
 * (what JSON escapes, or what must be checked as UTF-8); what was copied up to there is garbage
 * the caller does not count. In a word without a high bit, `v - 0x20202020` sets the high bit of
 * a lane below 0x20, and the same test of `v ^ 0x22222222` and `v ^ 0x5c5c5c5c` against 0x01 of
 * a quote or backslash lane; a borrow can flag a lane only above one rightly flagged.
 */
export function copyPlainAscii(src: DataView, start: number, end: number, dst: DataView, at: number): number {
  const n = end - start;
  let i = 0;
  for (; i + 8 <= n; i += 8) {
    const v = src.getInt32(start + i, true);
    const w = src.getInt32(start + i + 4, true);
    if ((v | w | (v - 0x20202020) | (w - 0x20202020) | ((v ^ 0x22222222) - 0x01010101) | ((w ^ 0x22222222) - 0x01010101) | ((v ^ 0x5c5c5c5c) - 0x01010101) | ((w ^ 0x5c5c5c5c) - 0x01010101)) & 0x80808080) return -1;
    dst.setInt32(at + i, v, true);
    dst.setInt32(at + i + 4, w, true);
  }
  if (i + 4 <= n) {
    const v = src.getInt32(start + i, true);
    if ((v | (v - 0x20202020) | ((v ^ 0x22222222) - 0x01010101) | ((v ^ 0x5c5c5c5c) - 0x01010101)) & 0x80808080) return -1;
    dst.setInt32(at + i, v, true);
    i += 4;
  }
  for (; i < n; i++) {
    const c = src.getUint8(start + i);
    if (c < 0x20 || c === 0x22 || c === 0x5c || c >= 0x80) return -1;
    dst.setUint8(at + i, c);
  }
  return n;
}
