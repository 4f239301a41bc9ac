/**
 * Finds named top-level fields of one event given as its UTF-8 JSON bytes (a line of a drain's
 * buffer), checking the whole event against JSON's grammar on the way, so that a template drain
 * can copy a field's bytes to its output without making strings of the event.
 *
 * Its answers are those JSON.parse of the decoded event would give, or none: it declines
 * (scan() returns false, the caller takes the string path) whatever it is not sure of:
 * whitespace between tokens (JSON.stringify writes none), keys with escapes, containers nested
 * deeper than MAX_DEPTH, control characters, any grammar error. It does not check UTF-8: the
 * caller does (bytes that are not UTF-8 would decode to U+FFFD on the string path).
 */

import { BACKSLASH, CLOSE_BRACE, CLOSE_BRACKET, COLON, COMMA, DOT, HEX_DIGIT, LOWER_E, MINUS, NINE, OPEN_BRACE, OPEN_BRACKET, PLUS, QUOTE, SHORT_ESCAPE, SPACE, UPPER_E, ZERO } from '@logyard/bus';

const MAX_DEPTH = 16;

/** What a field's value is, as found: where it starts and ends tells the rest. */
export const ABSENT = 0;
/** A string without escapes: its bytes between the quotes are the value. */
export const PLAIN_STRING = 1;
/** A string with backslash escapes: JSON.parse of its text is the value. */
export const ESCAPED_STRING = 2;
/** A number: its text is valid JSON, but JSON.stringify may write it otherwise (1.50, 1e3). */
export const NUMBER = 3;
/** true, false or null: written as they are. */
export const LITERAL = 4;
/** An object or array (valid JSON). */
export const CONTAINER = 5;

/** Bytes that end a run of a string's plain bytes: its closing quote, a backslash, a control character (invalid). */
const ENDS_STRING_RUN = new Uint8Array(256);
for (let c = 0; c < SPACE; c++) ENDS_STRING_RUN[c] = 1;
ENDS_STRING_RUN[QUOTE] = 1;
ENDS_STRING_RUN[BACKSLASH] = 1;

export class TopLevelFieldBytes {
  private readonly names: readonly Buffer[];
  /** Per name: kind, start and end of its value (in the bytes last scanned); strings with their quotes. */
  readonly found: Int32Array;
  /** Set by the string scan: whether the string passed had an escape. */
  private hadEscape = false;
  /**
   * For find(): the bytes last searched for a backslash, from where, and the first backslash at
   * or after that (their length: none), so that one native search serves the strings of many
   * lines of a batch (forgetBytes() when the bytes may have changed).
   */
  private backslashBytes: Uint8Array | null = null;
  private backslashFrom = 0;
  private nextBackslash = 0;

  constructor(names: readonly string[]) {
    this.names = names.map((name) => Buffer.from(name));
    this.found = new Int32Array(names.length * 3);
  }

  /**
   * Scans the event in `b[start, end)`; true when it is a JSON object whose fields `found` now
   * holds (a later duplicate key overrides an earlier one, as in JSON.parse), false when the scan
   * declines.
   */
  scan(b: Uint8Array, start: number, end: number): boolean {
    return this.read(b, start, end, false);
  }

  /**
   * scan() for an event known to be valid JSON as JSON.stringify writes it (no whitespace, no
   * duplicate keys: see EventBuffer's known-valid lines): once every name is found, the rest of
   * the event is not read, and a nested object or array passed over is only followed to its end,
   * not checked. Same answers as scan() for such an event; false (the caller checks it the usual
   * way) for a key with escapes or anything else unexpected.
   */
  find(b: Buffer, start: number, end: number): boolean {
    return this.read(b, start, end, true);
  }

  /** Before find() is given bytes whose contents may have changed since the last call (a new batch in a reused block). */
  forgetBytes(): void {
    this.backslashBytes = null;
  }

  private read(b: Uint8Array, start: number, end: number, knownValid: boolean): boolean {
    // Only the kinds: a value's start and end are read for a kind found. A loop, not fill(),
    // which as a call per event cost more than the rest of finding a syslog line's text.
    const found = this.found;
    for (let k = 0; k < found.length; k += 3) found[k] = ABSENT;
    // Names not found yet, counted for a known-valid event only.
    let left = knownValid ? this.names.length : -1;
    if (end - start < 2 || b[start] !== OPEN_BRACE) return false;
    let i = start + 1;
    if (b[i] === CLOSE_BRACE) return i + 1 === end;
    for (;;) {
      if (b[i] !== QUOTE) return false;
      const keyStart = i + 1;
      i = this.stringEnd(b, i, end);
      if (i < 0 || this.hadEscape) return false;
      const slot = this.slotOf(b, keyStart, i - 1);
      if (b[i] !== COLON || i + 1 >= end) return false;
      const valueStart = i + 1;
      const c = b[valueStart];
      let kind: number;
      if (c === QUOTE) {
        i = knownValid ? this.validStringEnd(b as Buffer, valueStart, end) : this.stringEnd(b, valueStart, end);
        kind = this.hadEscape ? ESCAPED_STRING : PLAIN_STRING;
      } else if (c === OPEN_BRACE || c === OPEN_BRACKET) {
        i = knownValid ? containerSkip(b, valueStart, end) : this.containerEnd(b, valueStart, end, 1);
        kind = CONTAINER;
      } else if (c === MINUS || (c >= ZERO && c <= NINE)) {
        i = numberEnd(b, valueStart, end);
        kind = NUMBER;
      } else {
        i = literalEnd(b, valueStart, end);
        kind = LITERAL;
      }
      if (i < 0) return false;
      if (slot >= 0) {
        const first = this.found[slot] === ABSENT;
        this.found[slot] = kind;
        this.found[slot + 1] = valueStart;
        this.found[slot + 2] = i;
        if (first && --left === 0) return true;
      }
      const next = b[i];
      if (next === COMMA && i + 1 < end) {
        i++;
        continue;
      }
      return next === CLOSE_BRACE && i + 1 === end;
    }
  }

  /** The slot of the key `b[from, to)` (no escapes) when it is one of the names; -1 when not. */
  private slotOf(b: Uint8Array, from: number, to: number): number {
    const length = to - from;
    const names = this.names;
    next: for (let n = 0; n < names.length; n++) {
      const name = names[n];
      if (name.length !== length) continue;
      for (let k = 0; k < length; k++) if (name[k] !== b[from + k]) continue next;
      return n * 3;
    }
    return -1;
  }

  /** Past the closing quote of the string whose quote is at `i`; -1 when it is not valid. */
  private stringEnd(b: Uint8Array, i: number, end: number): number {
    this.hadEscape = false;
    i++;
    for (;;) {
      // One test per byte, four bytes a turn (a tenth faster on a log line's text than one):
      // past the end of `b` the index gives undefined, which stops it too.
      while (ENDS_STRING_RUN[b[i]] === 0) {
        if (ENDS_STRING_RUN[b[i + 1]] !== 0) {
          i += 1;
          break;
        }
        if (ENDS_STRING_RUN[b[i + 2]] !== 0) {
          i += 2;
          break;
        }
        if (ENDS_STRING_RUN[b[i + 3]] !== 0) {
          i += 3;
          break;
        }
        i += 4;
      }
      if (i >= end) return -1;
      const c = b[i];
      if (c === QUOTE) return i + 1;
      if (c < SPACE) return -1;
      if (c === BACKSLASH) {
        this.hadEscape = true;
        const e = b[i + 1];
        if (SHORT_ESCAPE[e] === 1) i += 2;
        else if (e === 0x75 && i + 5 < end && HEX_DIGIT[b[i + 2]] === 1 && HEX_DIGIT[b[i + 3]] === 1 && HEX_DIGIT[b[i + 4]] === 1 && HEX_DIGIT[b[i + 5]] === 1) i += 6;
        else return -1;
      } else {
        i++;
      }
    }
  }

  /**
   * stringEnd() for a string of a known-valid event: its closing quote is the first quote after
   * `i` not escaped (not after an odd run of backslashes), found by native searches rather than a
   * loop over its bytes (the text of a syslog line: a seventh of the in-core pipeline's time).
   */
  private validStringEnd(b: Buffer, i: number, end: number): number {
    const from = i + 1;
    let quote = b.indexOf(QUOTE, from);
    for (;;) {
      if (quote < 0 || quote >= end) return -1;
      let k = quote - 1;
      while (k >= from && b[k] === BACKSLASH) k--;
      if (((quote - 1 - k) & 1) === 0) break;
      quote = b.indexOf(QUOTE, quote + 1);
    }
    this.hadEscape = this.backslashAt(b, from) < quote;
    return quote + 1;
  }

  /** The first backslash of `b` at or after `from` (b.length: none). */
  private backslashAt(b: Buffer, from: number): number {
    if (b !== this.backslashBytes || from < this.backslashFrom || from > this.nextBackslash) {
      const at = b.indexOf(BACKSLASH, from);
      this.backslashBytes = b;
      this.backslashFrom = from;
      this.nextBackslash = at < 0 ? b.length : at;
    }
    return this.nextBackslash;
  }

  /** Past the object or array that opens at `i`; -1 when it is not valid (or too deep to be sure of). */
  private containerEnd(b: Uint8Array, i: number, end: number, depth: number): number {
    if (depth > MAX_DEPTH) return -1;
    const isObject = b[i] === OPEN_BRACE;
    const close = isObject ? CLOSE_BRACE : CLOSE_BRACKET;
    i++;
    if (i < end && b[i] === close) return i + 1;
    for (;;) {
      if (i >= end) return -1;
      if (isObject) {
        if (b[i] !== QUOTE) return -1;
        i = this.stringEnd(b, i, end);
        if (i < 0 || b[i] !== COLON) return -1;
        if (++i >= end) return -1;
      }
      i = this.valueEnd(b, i, end, depth + 1);
      if (i < 0 || i >= end) return -1;
      const next = b[i];
      if (next === close) return i + 1;
      if (next !== COMMA) return -1;
      i++;
    }
  }

  private valueEnd(b: Uint8Array, i: number, end: number, depth: number): number {
    const c = b[i];
    if (c === QUOTE) return this.stringEnd(b, i, end);
    if (c === OPEN_BRACE || c === OPEN_BRACKET) return this.containerEnd(b, i, end, depth);
    if (c === MINUS || (c >= ZERO && c <= NINE)) return numberEnd(b, i, end);
    return literalEnd(b, i, end);
  }
}

/**
 * Past the object or array of a valid event that opens at `i`, following only its strings and
 * brackets (find(): not checked); -1 when it does not end before `end`.
 */
function containerSkip(b: Uint8Array, i: number, end: number): number {
  let depth = 0;
  for (; i < end; i++) {
    const c = b[i];
    if (c === QUOTE) {
      for (i++; i < end && b[i] !== QUOTE; i++) if (b[i] === BACKSLASH) i++;
    } else if (c === OPEN_BRACE || c === OPEN_BRACKET) {
      depth++;
    } else if ((c === CLOSE_BRACE || c === CLOSE_BRACKET) && --depth === 0) {
      return i + 1;
    }
  }
  return -1;
}

/** Past the JSON number at `i` (-?(0|[1-9]d*)(.d+)?([eE][+-]?d+)?); -1 when it is not one. */
function numberEnd(b: Uint8Array, i: number, end: number): number {
  if (i < end && b[i] === MINUS) i++;
  if (i >= end) return -1;
  if (b[i] === ZERO) i++;
  else if (b[i] > ZERO && b[i] <= NINE) i = digitsEnd(b, i, end);
  else return -1;
  if (i < end && b[i] === DOT) {
    const from = i + 1;
    i = digitsEnd(b, from, end);
    if (i === from) return -1;
  }
  if (i < end && (b[i] === LOWER_E || b[i] === UPPER_E)) {
    i++;
    if (i < end && (b[i] === PLUS || b[i] === MINUS)) i++;
    const from = i;
    i = digitsEnd(b, from, end);
    if (i === from) return -1;
  }
  return i;
}

function digitsEnd(b: Uint8Array, i: number, end: number): number {
  while (i < end && b[i] >= ZERO && b[i] <= NINE) i++;
  return i;
}

const TRUE = Buffer.from('true');
const FALSE = Buffer.from('false');
const NULL = Buffer.from('null');

/** Past `true`, `false` or `null` at `i`; -1 when none is there. */
function literalEnd(b: Uint8Array, i: number, end: number): number {
  const word = b[i] === 0x74 ? TRUE : b[i] === 0x66 ? FALSE : b[i] === 0x6e ? NULL : null;
  if (word === null || i + word.length > end) return -1;
  for (let k = 1; k < word.length; k++) if (b[i + k] !== word[k]) return -1;
  return i + word.length;
}

/** Whether the number text `b[start, end)` is an integer JSON.stringify writes the same (no sign of zero, exact in a double). */
export function isPlainInteger(b: Uint8Array, start: number, end: number): boolean {
  const digits = end - start - (b[start] === MINUS ? 1 : 0);
  if (digits > 15) return false;
  for (let i = start; i < end; i++) {
    const c = b[i];
    if (c === DOT || c === LOWER_E || c === UPPER_E) return false;
  }
  // "-0" is written "0".
  return !(b[start] === MINUS && b[start + 1] === ZERO);
}
