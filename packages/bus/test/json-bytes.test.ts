import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { jsonEscapedLength, writeJsonEscaped } from '../src/index.js';

describe('JSON escaping on bytes', () => {
  it('writes what JSON.stringify writes between the quotes, for any text', () => {
    // Any Unicode text, with control characters, quotes and backslashes often.
    const text = fc.array(fc.oneof(fc.string({ unit: 'grapheme' }), fc.constantFrom('"', '\\', '\n', '\r\n', '\t', '\b', '\f', '\0', '\x01', '\x1f', '\x7f', 'é', '€', '😀')), { maxLength: 30 }).map((parts) => parts.join(''));
    fc.assert(
      fc.property(text, fc.nat(4), (s, offset) => {
        const src = Buffer.concat([Buffer.alloc(offset, 0x22), Buffer.from(s)]);
        const expected = Buffer.from(JSON.stringify(s).slice(1, -1));
        const dst = Buffer.alloc(expected.length + 8, 0xff);
        expect(jsonEscapedLength(src, offset, src.length)).toBe(expected.length);
        expect(writeJsonEscaped(src, offset, src.length, dst, 3)).toBe(expected.length);
        expect(dst.subarray(3, 3 + expected.length)).toEqual(expected);
      }),
      { numRuns: 3000 },
    );
  });
});
