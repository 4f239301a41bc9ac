/**
 * Whether bytes are one JSON object (RFC 8259) in valid UTF-8: what every event must be. The core
 * checks each line of a publish.sock batch that no Logyard encoder vouched for (wire.ts, the
 * known-valid mark) before any drain sees it, on its bytes, without decoding a string or building
 * the object JSON.parse would.
 *
 * A loop over the bytes with its own stack of open containers (no recursion: an event of 1 MiB
 * may nest half a million deep). Duplicate keys and lone surrogates written as `\uXXXX` are JSON
 * that JSON.parse takes, and are taken here too.
 */

import {
  BACKSLASH,
  CLOSE_BRACE,
  CLOSE_BRACKET,
  COLON,
  COMMA,
  CR,
  DOT,
  HEX_DIGIT,
  LF,
  LOWER_E,
  MINUS,
  NINE,
  OPEN_BRACE,
  OPEN_BRACKET,
  PLUS,
  QUOTE,
  SHORT_ESCAPE,
  SPACE,
  TAB,
  UPPER_E,
  ZERO,
} from './json-grammar.js';

const IN_OBJECT = 1;
const IN_ARRAY = 2;

const TRUE = Buffer.from('true');
const FALSE = Buffer.from('false');
const NULL = Buffer.from('null');

/** Open containers, one byte each; grown as needed and kept. */
let stack = new Uint8Array(64);

/** Whether `buf[start, end)` is exactly one JSON object, with whitespace around its tokens allowed, in valid UTF-8. */
export function isJsonObject(buf: Uint8Array, start: number, end: number): boolean {
  let p = skipSpace(buf, start, end);
  if (p >= end || buf[p] !== OPEN_BRACE) return false;
  let depth = 0;
  for (;;) {
    // At a value.
    const c = buf[p];
    if (c === OPEN_BRACE || c === OPEN_BRACKET) {
      if (depth === stack.length) {
        const grown = new Uint8Array(stack.length * 2);
        grown.set(stack);
        stack = grown;
      }
      stack[depth++] = c === OPEN_BRACE ? IN_OBJECT : IN_ARRAY;
      p = skipSpace(buf, p + 1, end);
      if (p >= end) return false;
      const closing = c === OPEN_BRACE ? CLOSE_BRACE : CLOSE_BRACKET;
      if (buf[p] === closing) {
        depth--;
        p++;
      } else {
        if (c === OPEN_BRACE && (p = member(buf, p, end)) < 0) return false;
        continue;
      }
    } else if (c === QUOTE) {
      if ((p = string(buf, p, end)) < 0) return false;
    } else if (c === MINUS || (c >= ZERO && c <= NINE)) {
      if ((p = number(buf, p, end)) < 0) return false;
    } else if (c === 0x74 /* t */) {
      if (!word(buf, p, end, TRUE)) return false;
      p += 4;
    } else if (c === 0x66 /* f */) {
      if (!word(buf, p, end, FALSE)) return false;
      p += 5;
    } else if (c === 0x6e /* n */) {
      if (!word(buf, p, end, NULL)) return false;
      p += 4;
    } else {
      return false;
    }
    // After a value: a comma and the next one, or the end of containers.
    for (;;) {
      if (depth === 0) return skipSpace(buf, p, end) === end;
      p = skipSpace(buf, p, end);
      if (p >= end) return false;
      const after = buf[p];
      const open = stack[depth - 1];
      if (after === COMMA) {
        p = skipSpace(buf, p + 1, end);
        if (p >= end) return false;
        if (open === IN_OBJECT && (p = member(buf, p, end)) < 0) return false;
        break;
      }
      if (after !== (open === IN_OBJECT ? CLOSE_BRACE : CLOSE_BRACKET)) return false;
      depth--;
      p++;
    }
  }
}

/** A member's key and colon at `p`: where its value starts, or -1. */
function member(buf: Uint8Array, p: number, end: number): number {
  if (buf[p] !== QUOTE || (p = string(buf, p, end)) < 0) return -1;
  p = skipSpace(buf, p, end);
  if (p >= end || buf[p] !== COLON) return -1;
  p = skipSpace(buf, p + 1, end);
  return p < end ? p : -1;
}

function skipSpace(buf: Uint8Array, p: number, end: number): number {
  while (p < end) {
    const c = buf[p];
    if (c !== SPACE && c !== LF && c !== CR && c !== TAB) break;
    p++;
  }
  return p;
}

function word(buf: Uint8Array, p: number, end: number, expected: Buffer): boolean {
  if (p + expected.length > end) return false;
  for (let i = 1; i < expected.length; i++) if (buf[p + i] !== expected[i]) return false;
  return true;
}

/** The string at `p` (its opening quote): the position after its closing quote, or -1. */
function string(buf: Uint8Array, p: number, end: number): number {
  p++;
  while (p < end) {
    const c = buf[p];
    if (c === QUOTE) return p + 1;
    if (c < 0x80) {
      if (c < 0x20) return -1;
      if (c === BACKSLASH) {
        const e = buf[p + 1];
        if (p + 1 < end && SHORT_ESCAPE[e]) p += 2;
        else if (e === 0x75 /* u */ && p + 6 <= end && HEX_DIGIT[buf[p + 2]] && HEX_DIGIT[buf[p + 3]] && HEX_DIGIT[buf[p + 4]] && HEX_DIGIT[buf[p + 5]]) p += 6;
        else return -1;
      } else {
        p++;
      }
    } else if ((p = utf8Sequence(buf, p, end)) < 0) {
      return -1;
    }
  }
  return -1;
}

/** The UTF-8 sequence of more than one byte at `p`: the position after it, or -1 (overlong, surrogate, past U+10FFFF, cut). */
function utf8Sequence(buf: Uint8Array, p: number, end: number): number {
  const c = buf[p];
  let more: number;
  // The second byte's range where it is narrower than 0x80-0xBF.
  let low = 0x80;
  let high = 0xbf;
  if (c >= 0xc2 && c <= 0xdf) more = 1;
  else if (c >= 0xe0 && c <= 0xef) {
    more = 2;
    if (c === 0xe0) low = 0xa0;
    else if (c === 0xed) high = 0x9f;
  } else if (c >= 0xf0 && c <= 0xf4) {
    more = 3;
    if (c === 0xf0) low = 0x90;
    else if (c === 0xf4) high = 0x8f;
  } else return -1;
  if (p + more >= end) return -1;
  const second = buf[p + 1];
  if (second < low || second > high) return -1;
  for (let i = 2; i <= more; i++) if ((buf[p + i] & 0xc0) !== 0x80) return -1;
  return p + more + 1;
}

/** The number at `p`: the position after it, or -1. */
function number(buf: Uint8Array, p: number, end: number): number {
  if (buf[p] === MINUS) p++;
  if (p >= end) return -1;
  if (buf[p] === ZERO) p++;
  else if ((p = digits(buf, p, end)) < 0) return -1;
  if (p < end && buf[p] === DOT && (p = digits(buf, p + 1, end)) < 0) return -1;
  if (p < end && (buf[p] === LOWER_E || buf[p] === UPPER_E)) {
    p++;
    if (p < end && (buf[p] === PLUS || buf[p] === MINUS)) p++;
    if ((p = digits(buf, p, end)) < 0) return -1;
  }
  return p;
}

/** One or more digits at `p`: the position after them, or -1. */
function digits(buf: Uint8Array, p: number, end: number): number {
  const from = p;
  while (p < end && buf[p] >= ZERO && buf[p] <= NINE) p++;
  return p > from ? p : -1;
}
