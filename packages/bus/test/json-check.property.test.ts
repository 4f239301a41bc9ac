// isJsonObject decides on bytes what JSON.parse of their UTF-8 text decides, for objects: these
// properties hold it to that on valid JSON of every kind, on JSON broken a byte at a time, and on
// arbitrary bytes.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isJsonObject } from '../src/json-check.js';

/** What the bytes are by JSON.parse: valid UTF-8 whose text parses to an object (not an array, not null). */
function reference(bytes: Buffer): boolean {
  const text = bytes.toString('utf8');
  if (!Buffer.from(text, 'utf8').equals(bytes)) return false; // not valid UTF-8
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === 'object' && value !== null && !Array.isArray(value);
  } catch {
    return false;
  }
}

/** isJsonObject of the bytes placed inside a larger buffer, as a line of a batch is. */
function check(bytes: Buffer): boolean {
  const framed = Buffer.concat([Buffer.from('key '), bytes, Buffer.from('\n')]);
  return isJsonObject(framed, 4, 4 + bytes.length);
}

const json = fc.oneof(
  fc.json({ depthSize: 'medium' }),
  fc.jsonValue().map((v) => JSON.stringify({ text: 'x', v })),
  fc.jsonValue().map((v) => JSON.stringify({ a: v, b: [v, { c: v }] }, null, 1)),
  fc.string({ unit: 'binary' }).map((s) => JSON.stringify({ text: s })),
);

describe('isJsonObject', () => {
  it('agrees with JSON.parse on valid JSON of every kind and on whitespace around it', () => {
    fc.assert(
      fc.property(json, fc.constantFrom('', ' ', '\t', '\r\n ', ' \n'), (text, space) => {
        const bytes = Buffer.from(space + text + space);
        expect(check(bytes)).toBe(reference(bytes));
      }),
      { numRuns: 2000 },
    );
  });

  it('agrees with JSON.parse on JSON with a byte changed, removed or added, and cut short', () => {
    fc.assert(
      fc.property(json, fc.nat(), fc.integer({ min: 0, max: 255 }), fc.constantFrom('change', 'remove', 'add', 'cut'), (text, at, byte, how) => {
        const bytes = Buffer.from(text);
        const i = bytes.length === 0 ? 0 : at % bytes.length;
        const broken =
          how === 'change'
            ? Buffer.concat([bytes.subarray(0, i), Buffer.of(byte), bytes.subarray(i + 1)])
            : how === 'remove'
              ? Buffer.concat([bytes.subarray(0, i), bytes.subarray(i + 1)])
              : how === 'add'
                ? Buffer.concat([bytes.subarray(0, i), Buffer.of(byte), bytes.subarray(i)])
                : bytes.subarray(0, i);
        expect(check(broken)).toBe(reference(broken));
      }),
      { numRuns: 5000 },
    );
  });

  it('agrees with JSON.parse on arbitrary bytes inside braces', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 40 }), (inner) => {
        const bytes = Buffer.concat([Buffer.from('{"text":"'), Buffer.from(inner), Buffer.from('"}')]);
        expect(check(bytes)).toBe(reference(bytes));
      }),
      { numRuns: 5000 },
    );
  });

  it('takes deep nesting, and tells each UTF-8 sequence the way the decoder does', () => {
    const deep = Buffer.from(`{"a":${'['.repeat(100_000)}${']'.repeat(100_000)}}`);
    expect(check(deep)).toBe(true);
    expect(check(Buffer.from(`{"a":${'['.repeat(100_000)}${']'.repeat(99_999)}}`))).toBe(false);
    // Overlong, surrogate, past U+10FFFF, cut, and the edges around each.
    for (const seq of [[0xc0, 0x80], [0xc2, 0x80], [0xe0, 0x9f, 0x80], [0xe0, 0xa0, 0x80], [0xed, 0xa0, 0x80], [0xed, 0x9f, 0xbf], [0xf0, 0x8f, 0x80, 0x80], [0xf0, 0x90, 0x80, 0x80], [0xf4, 0x8f, 0xbf, 0xbf], [0xf4, 0x90, 0x80, 0x80], [0xf5, 0x80, 0x80, 0x80], [0xe2, 0x82], [0xff]]) {
      const bytes = Buffer.concat([Buffer.from('{"text":"'), Buffer.from(seq), Buffer.from('"}')]);
      expect(check(bytes), Buffer.from(seq).toString('hex')).toBe(reference(bytes));
    }
    for (const bad of ['', '{', '}', '{}x', '[]', 'null', '{"a"}', '{"a":}', '{,}', '{"a":1,}', '{"a":01}', '{"a":1.}', '{"a":-}', '{"a":1e}', '{"a":tru}', '{"a":"\\x"}', '{"a":"\\u12G4"}', "{'a':1}"]) {
      expect(check(Buffer.from(bad)), bad).toBe(false);
    }
  });
});
