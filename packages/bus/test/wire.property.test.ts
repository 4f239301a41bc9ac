import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeFrame, KeyTable, WIRE_MAGIC, type MalformedReason, type WireKey } from '../src/index.js';

interface Decoded {
  lines: string[];
  keys: string[];
  malformed: Partial<Record<MalformedReason, number>>;
}

/** What decodeFrame makes of `frame`: its good lines (bytes, newline included) with their keys, and the malformed counts. */
function decode(frame: Buffer, keys: KeyTable<WireKey>, maxEvent: number, into: Decoded): void {
  const lines = decodeFrame(frame, keys, (reason, count) => (into.malformed[reason] = (into.malformed[reason] ?? 0) + count), maxEvent);
  for (let i = 0; i < lines.count; i++) {
    into.lines.push(lines.frame.toString('latin1', lines.starts[i], lines.ends[i]));
    into.keys.push(lines.keys[i].key);
  }
}

const empty = (): Decoded => ({ lines: [], keys: [], malformed: {} });

// Keys that share bytes with one another (a prefix, one byte off, the same length), bad ones, one
// of the longest allowed and one too long, so that a line is often almost the key before it.
const key = fc.constantFrom('a.b', 'a.bc', 'a.b.c', 'a.c', 'ab', 'a', 'syslog.web-1', 'syslog.web-2', 'syslog.web-10', 'syslog.web-11', 'bad..key', 'bad!', 'é.x', 'k'.repeat(255), 'k'.repeat(256), '');
const json = fc.oneof(
  { weight: 6, arbitrary: fc.string({ maxLength: 30 }).map((text) => JSON.stringify({ text })) },
  { weight: 1, arbitrary: fc.constantFrom('{}', '{', '}', 'not-json', '{"a":" b"}', ' {"x":1}', '') },
);
const line = fc.oneof(
  { weight: 8, arbitrary: fc.tuple(key, json).map(([k, j]) => `${k} ${j}`) },
  { weight: 1, arbitrary: fc.oneof(key, fc.constantFrom('', 'nospace', ' ', 'a.b  {"x":1}')) },
);

describe('decodeFrame', () => {
  it('reads a frame of many lines as it reads each line alone (a line of the key before it is known without the key table)', () => {
    fc.assert(
      fc.property(fc.array(line, { maxLength: 40 }), fc.oneof(fc.constant(Number.POSITIVE_INFINITY), fc.integer({ min: 0, max: 60 })), fc.boolean(), (lines, maxEvent, lastNewline) => {
        const whole = empty();
        decode(Buffer.from(WIRE_MAGIC + lines.join('\n') + (lastNewline ? '\n' : '')), new KeyTable((k, b) => ({ key: k, keyBytes: b })), maxEvent, whole);
        // Each line as a frame of its own, with a table of its own: never the line before's key.
        const alone = empty();
        for (const l of lines) decode(Buffer.from(`${WIRE_MAGIC}${l}\n`), new KeyTable((k, b) => ({ key: k, keyBytes: b })), maxEvent, alone);
        expect(whole).toEqual(alone);
      }),
      { numRuns: 500 },
    );
  });
});
