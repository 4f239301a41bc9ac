import { describe, expect, it } from 'vitest';
import { DockerLineJoiner, parseDockerLine, type DockerLine } from '../src/index.js';

function joiner(maxJoined = 1 << 20): { j: DockerLineJoiner; out: DockerLine[] } {
  const out: DockerLine[] = [];
  return { j: new DockerLineJoiner((l) => out.push(l), maxJoined), out };
}

const rec = (log: string, stream: string, time: string) => parseDockerLine(JSON.stringify({ log, stream, time }))!;

describe('DockerLineJoiner', () => {
  it('joins partial records per stream, so a stderr line between two parts of a stdout line stays apart', () => {
    const { j, out } = joiner();
    const owner = {};
    j.record(rec('a'.repeat(16384), 'stdout', '2026-01-01T00:00:01Z'), owner, 0);
    j.record(rec('oops\n', 'stderr', '2026-01-01T00:00:02Z'), owner, 100);
    expect(j.heldFrom(owner)).toBe(0);
    j.record(rec('bbb\r\n', 'stdout', '2026-01-01T00:00:03Z'), owner, 200);
    expect(out).toEqual([
      { text: 'oops', stream: 'stderr', unixTime: Date.parse('2026-01-01T00:00:02Z') / 1000 },
      { text: 'a'.repeat(16384) + 'bbb', stream: 'stdout', unixTime: Date.parse('2026-01-01T00:00:01Z') / 1000 },
    ]);
    expect(j.heldFrom(owner)).toBeUndefined();
  });

  it('lets out a last part without newline after the quiet time, as its stream and with its time', () => {
    const { j, out } = joiner();
    const owner = {};
    j.record(rec('no-newline-at-end', 'stderr', '2026-01-01T00:00:05Z'), owner, 42);
    j.flushQuiet(1000, Date.now() + 500);
    expect(out).toEqual([]);
    expect(j.heldFrom({})).toBeUndefined();
    j.flushQuiet(1000, Date.now() + 1000);
    expect(out).toEqual([{ text: 'no-newline-at-end', stream: 'stderr', unixTime: Date.parse('2026-01-01T00:00:05Z') / 1000 }]);
  });

  it('lets out a line that reaches its bound before its end comes', () => {
    const { j, out } = joiner(10);
    j.record(rec('12345678', 'stdout', ''), {}, 0);
    j.record(rec('90ab', 'stdout', ''), {}, 0);
    j.record(rec('c\n', 'stdout', ''), {}, 0);
    expect(out.map((l) => l.text)).toEqual(['1234567890ab', 'c']);
  });

  it('parses only objects with a string log', () => {
    expect(parseDockerLine('{"stream":"stdout"}')).toBeNull();
    expect(parseDockerLine('{"log":"x\\n"')).toBeNull();
    expect(parseDockerLine('{"log":"x\\n","stream":"stdout","time":"2026-01-01T00:00:00.5Z"}')).toEqual({ log: 'x\n', stream: 'stdout', unixTime: Date.parse('2026-01-01T00:00:00.5Z') / 1000 });
  });
});
