import { describe, expect, it } from 'vitest';
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
