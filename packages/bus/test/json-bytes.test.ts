import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { hasJsonEscapes, jsonEscapedLength, writeJsonEscaped } from '../src/index.js';

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

  it('hasJsonEscapes finds a quote, a backslash or a byte below 0x20 anywhere in any bytes, and nothing else', () => {
    // Bytes of every kind, the ones to find rare, so that most inputs have none or one.
    const byte = fc.oneof({ weight: 12, arbitrary: fc.integer({ min: 0x20, max: 0xff }) }, fc.constantFrom(0x00, 0x01, 0x09, 0x0a, 0x1f, 0x22, 0x5c));
    fc.assert(
      fc.property(fc.array(byte, { maxLength: 40 }), fc.nat(5), fc.nat(5), (bytes, before, after) => {
        const buf = Buffer.concat([Buffer.alloc(before, 0x22), Buffer.from(bytes), Buffer.alloc(after, 0x5c)]);
        const view = new DataView(buf.buffer, buf.byteOffset, buf.length);
        const expected = bytes.some((c) => c < 0x20 || c === 0x22 || c === 0x5c);
        expect(hasJsonEscapes(view, before, before + bytes.length)).toBe(expected);
      }),
      { numRuns: 5000 },
    );
  });
});
