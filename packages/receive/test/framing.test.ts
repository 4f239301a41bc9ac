import { describe, expect, it } from 'vitest';
import { datagramMessageStart, FrameDecoder, type FramePiece, type FrameProblem } from '../src/index.js';

function decode(
  chunks: Array<string | Buffer>,
  options: { octetCounting?: boolean; nulTerminates?: boolean; nulOnly?: boolean; maxFrameBytes?: number; splitBytes?: number } = {},
): { frames: string[]; problems: FrameProblem[]; pieces: FramePiece[] } {
  const frames: string[] = [];
  const pieces: FramePiece[] = [];
  const problems: FrameProblem[] = [];
  const d = new FrameDecoder(
    {
      frame: (buf, start, end, piece) => {
        frames.push(buf.toString('utf8', start, end));
        pieces.push(piece);
      },
      problem: (r) => problems.push(r),
    },
    { octetCounting: options.octetCounting ?? true, maxFrameBytes: 64 * 1024, ...options },
  );
  for (const c of chunks) d.push(typeof c === 'string' ? Buffer.from(c) : c);
  d.end();
  return { frames, problems, pieces };
}

describe('FrameDecoder', () => {
  it('keeps a NUL inside a line (a unix stream sender) and ends messages at a NUL before the next one', () => {
    expect(decode(['<13>abc\0def\n<14>next\0<15>third\0'], { nulTerminates: true })).toMatchObject({ frames: ['<13>abc\0def', '<14>next', '<15>third'], problems: [] });
  });

  it('ends GELF frames at NUL only: newlines are part of them', () => {
    expect(decode(['{"a":1}\0{"b":\n2}', '\0'], { octetCounting: false, nulOnly: true })).toMatchObject({ frames: ['{"a":1}', '{"b":\n2}'], problems: [] });
  });

  it('cuts newline framing, with CRLF, blank lines and a last line without newline', () => {
    expect(decode(['<1>a\r\n\n<2>b\n<3>c'])).toMatchObject({ frames: ['<1>a', '<2>b', '<3>c'], problems: [] });
  });

  it('detects octet counting per frame, mixed with lines, split anywhere', () => {
    const stream = '5 <1>ab<2>line\n10 <3>x\ny\nzzz4 <4>q';
    const whole = decode([stream]);
    expect(whole).toMatchObject({ frames: ['<1>ab', '<2>line', '<3>x\ny\nzzz', '<4>q'], problems: [] });
    for (let cut = 1; cut < stream.length; cut++) {
      expect(decode([stream.slice(0, cut), stream.slice(cut)])).toEqual(whole);
    }
  });

  it('counts octets, not characters', () => {
    expect(decode(['9 <1>é €5 <2>ab']).frames).toEqual(['<1>é €', '<2>ab']);
  });

  it('reads digits not followed by a space as the start of a line', () => {
    expect(decode(['123abc\n']).frames).toEqual(['123abc']);
  });

  it('hands a longer line or octet-counted frame over in pieces, as it arrives, when asked to split', () => {
    const split = { maxFrameBytes: 10, splitBytes: 8 };
    expect(decode(['<1>0123456789abcdef\n<2>ok\n'], split)).toEqual({
      frames: ['<1>01234', '56789abc', 'def', '<2>ok'], pieces: ['first', 'more', 'last', 'whole'], problems: [],
    });
    expect(decode(['<1>0123', '456789abc', 'def\n<2>ok\n'], split).frames).toEqual(['<1>01234', '56789abc', 'def', '<2>ok']);
    expect(decode(['19 <1>0123456789abcdef<2>ok\n'], split)).toEqual({
      frames: ['<1>01234', '56789abc', 'def', '<2>ok'], pieces: ['first', 'more', 'last', 'whole'], problems: [],
    });
    // A line exactly at the limit is whole; cuts fall between UTF-8 characters.
    expect(decode(['<1>4567890\n'], split).pieces).toEqual(['whole']);
    expect(decode(['<1>aé€€€€\n'], split).frames).toEqual(['<1>aé', '€€', '€€']);
    // The connection closes: the rest of a line is its last piece; half a counted frame is truncated.
    expect(decode(['<1>0123456789abcdef'], split)).toMatchObject({ frames: ['<1>01234', '56789abc', 'def'], pieces: ['first', 'more', 'last'] });
    expect(decode(['30 <1>0123456789abcdef'], split)).toMatchObject({ frames: ['<1>01234', '56789abc'], problems: ['truncated_frame'] });
  });

  it('drops and counts frames above the limit, and stays in step', () => {
    expect(decode(['19 <1>0123456789abcdef<2>ok\n'], { maxFrameBytes: 10 })).toMatchObject({ frames: ['<2>ok'], problems: ['too_long'] });
    expect(decode(['<1>0123456789abc', 'def\n<2>ok\n'], { maxFrameBytes: 10 })).toMatchObject({ frames: ['<2>ok'], problems: ['too_long'] });
    expect(decode(['19 <1>0123', '456789abcdef<2>ok\n'], { maxFrameBytes: 10 })).toMatchObject({ frames: ['<2>ok'], problems: ['too_long'] });
  });

  it('counts a zero length and a frame cut by the end of the stream', () => {
    expect(decode(['0 <1>a\n'])).toMatchObject({ frames: ['<1>a'], problems: ['bad_frame'] });
    expect(decode(['10 <1>a'])).toMatchObject({ frames: [], problems: ['truncated_frame'] });
  });

  it("ends messages at NUL for glibc's stream syslog() and Python's SysLogHandler, when asked", () => {
    expect(decode(['<1>a\0<2>b\0\n<3>c\n'], { nulTerminates: true }).frames).toEqual(['<1>a', '<2>b', '<3>c']);
    // Each message is handed over when its NUL arrives, not when the connection closes.
    const frames: string[] = [];
    const d = new FrameDecoder({ frame: (buf, start, end) => frames.push(buf.toString('utf8', start, end)), problem: () => {} }, { octetCounting: true, nulTerminates: true, maxFrameBytes: 1024 });
    d.push(Buffer.from('<12>hello\0<12>sec'));
    expect(frames).toEqual(['<12>hello']);
    d.push(Buffer.from('ond\0'));
    expect(frames).toEqual(['<12>hello', '<12>second']);
    // A NUL inside an octet-counted frame is the message's.
    expect(decode(['6 <1>a\0b\0'], { nulTerminates: true }).frames).toEqual(['<1>a\0b']);
  });

  it('is newline-only for JSON', () => {
    expect(decode(['5 {"a"\n{"b":1}\n'], { octetCounting: false }).frames).toEqual(['5 {"a"', '{"b":1}']);
  });
});

describe('datagramMessageStart', () => {
  it("skips the octet count that logger --udp --octet-count puts in the datagram", () => {
    const m = '<13>1 2026-11-30T02:15:48.983099+00:00 vm tg - - [timeQuality tzKnown="1" isSynced="0"] x\ny';
    const wire = Buffer.from(`${Buffer.byteLength(m)} ${m}`);
    expect(wire.toString('utf8', datagramMessageStart(wire))).toBe(m);
    expect(datagramMessageStart(Buffer.from('3 <1>\n'))).toBe(2);
  });

  it('leaves a message that only starts with digits whole', () => {
    for (const s of ['<13>x', '12 apples', '3 <1>x', '4 <1>', '0 ', '1234567890 x', '']) expect(datagramMessageStart(Buffer.from(s))).toBe(0);
  });
});
