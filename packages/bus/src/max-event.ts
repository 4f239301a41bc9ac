import { jsonStringContent } from './event.js';

/**
 * One event is at most max_event bytes of JSON on every path into the bus (docs/configuration.md,
 * max_event): a longer text line is split into several events, a longer object refused.
 */

/** Whether `json` takes at most `maxEvent` bytes as UTF-8 (counted only when it could be longer). */
export function fitsMaxEvent(json: string, maxEvent: number): boolean {
  return json.length * 3 <= maxEvent || Buffer.byteLength(json) <= maxEvent;
}

/**
 * Cuts `text` into pieces whose JSON string content (escapes included) takes at most `budget`
 * bytes each, so that each piece's event fits when the rest of the event takes the other bytes.
 * Never cuts a surrogate pair; the pieces joined are `text`. `budget` must be at least 12 (one
 * escaped character takes at most 6 bytes, a pair 4).
 */
export function splitJsonText(text: string, budget: number): string[] {
  const pieces: string[] = [];
  let start = 0;
  while (start < text.length) {
    // A first guess that fits one byte per character, shrunk in proportion until it fits.
    let end = Math.min(text.length, start + budget);
    for (;;) {
      if (end < text.length && isHighSurrogate(text.charCodeAt(end - 1))) end += end - start > 1 ? -1 : 1;
      const bytes = Buffer.byteLength(jsonStringContent(text.slice(start, end)));
      if (bytes <= budget) break;
      end = start + Math.max(1, Math.floor(((end - start) * budget) / bytes) - 1);
    }
    pieces.push(text.slice(start, end));
    start = end;
  }
  return pieces;
}

function isHighSurrogate(code: number): boolean {
  return code >= 0xd800 && code <= 0xdbff;
}
