import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { compilePattern, LineSplitter } from '../src/index.js';

function split(maxLine: number, ...chunks: Array<string | Buffer>): { lines: string[]; s: LineSplitter } {
  const lines: string[] = [];
  const s = new LineSplitter(maxLine, (l) => lines.push(l));
  for (const c of chunks) s.push(typeof c === 'string' ? Buffer.from(c) : c);
  return { lines, s };
}

describe('LineSplitter', () => {
  it('cuts lines across chunks, strips \\r, keeps an unfinished line pending', () => {
    const { lines, s } = split(100, 'a\r\nb', 'c\n\nd');
    expect(lines).toEqual(['a', 'bc', '']);
    expect(s.pendingBytes).toBe(1);
  });

  it('cuts lines longer than max_line, never inside a UTF-8 character, even before their newline', () => {
    const { lines } = split(4, 'abcdefghij', 'k\n', 'ééé\n');
    expect(lines).toEqual(['abcd', 'efgh', 'ijk', 'éé', 'é']);
  });

  it('skips and counts lines with NUL bytes or invalid UTF-8', () => {
    const { lines, s } = split(100, Buffer.from([0x61, 0x00, 0x0a, 0xff, 0xfe, 0x0a]), 'ok\n');
    expect(lines).toEqual(['ok']);
    expect(s.counters.binary).toBe(2);
  });
});

describe('LineSplitter with a client that takes bytes', () => {
  it('hands over the lines, offsets, parts and counts it hands over as strings, for any bytes in any chunks', () => {
    // Lines of text, \r\n, NUL, invalid UTF-8 and multi-byte characters, in chunks cut anywhere.
    const piece = fc.oneof(
      fc.string({ unit: 'grapheme', maxLength: 12 }).map((t) => Buffer.from(t)),
      fc.constantFrom(...['\n', '\r\n', '\r', '\0', 'é', '😀', 'abcdefghij'].map((t) => Buffer.from(t)), Buffer.from([0xff]), Buffer.from([0xe2, 0x82])),
    );
    const input = fc.array(piece, { maxLength: 40 }).map((pieces) => Buffer.concat(pieces));
    fc.assert(
      fc.property(input, fc.array(fc.nat(60), { maxLength: 6 }), fc.integer({ min: 4, max: 20 }), fc.boolean(), (bytes, cuts, maxLine, ended) => {
        const asStrings: unknown[] = [];
        const asBytes: unknown[] = [];
        const strings = new LineSplitter(maxLine, (line, offset, part) => asStrings.push([line, offset, part]), 7);
        const fromBytes = new LineSplitter(maxLine, () => expect.fail('a line as a string'), 7, (buf, start, end, offset, part) => asBytes.push([buf.toString('utf8', start, end), offset, part]));
        const at = [...new Set(cuts.map((c) => Math.min(c, bytes.length)))].sort((a, b) => a - b);
        let from = 0;
        for (const cut of [...at, bytes.length]) {
          // Each chunk in a buffer of its own that is written over after the push, as the tailer's is.
          const chunk = Buffer.from(bytes.subarray(from, cut));
          strings.push(Buffer.from(chunk));
          fromBytes.push(chunk);
          chunk.fill(0x41);
          from = cut;
        }
        if (ended) {
          strings.end();
          fromBytes.end();
        }
        expect(asBytes).toEqual(asStrings);
        expect(fromBytes.counters).toEqual(strings.counters);
        expect(fromBytes.pendingBytes).toBe(strings.pendingBytes);
      }),
      { numRuns: 2000 },
    );
  });
});

describe('compilePattern', () => {
  it('captures placeholders and requires a repeated one to match the same text', () => {
    const p = compilePattern('/var/lib/docker/containers/{app_id}/{app_id}-json.log');
    expect(p.baseDir).toBe('/var/lib/docker/containers');
    expect(p.depth).toBe(2);
    expect(p.match('/var/lib/docker/containers/abc/abc-json.log')).toEqual({ app_id: 'abc' });
    expect(p.match('/var/lib/docker/containers/abc/def-json.log')).toBeNull();
    expect(compilePattern('/var/log/apps/*.log').match('/var/log/apps/web.log')).toEqual({});
  });
});
