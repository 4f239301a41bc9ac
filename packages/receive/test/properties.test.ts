import { isUtf8 } from 'node:buffer';
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { decodeBatch, DirectPublisher, keyProblem, RateLimiter } from '@logyard/bus';
import { SyslogInput } from '../src/syslog-input.js';
import { cutJsonStringContent, datagramMessageStart, FrameDecoder, isSyslogProblem, parseSyslog, plainTextEnd, syslogFieldJson, syslogKey, SyslogHeaderCache, type FramePiece, type FrameProblem, type SyslogMessage, type SyslogParseResult } from '../src/index.js';

const REASONS = ['bad_priority', 'bad_header', 'bad_structured_data'];
const FRAME_PROBLEMS: FrameProblem[] = ['too_long', 'bad_frame', 'truncated_frame'];

/** What the receiver does with a parse result must work: a counted reason, or a key and a JSON field. */
function checkOutcome(r: SyslogParseResult): void {
  if (isSyslogProblem(r)) {
    expect(REASONS).toContain(r.malformed);
    expect(r.detail.length).toBeGreaterThan(0);
    return;
  }
  expect(keyProblem(syslogKey(r.appname))).toBeNull();
  const field = JSON.parse(syslogFieldJson(r));
  expect(typeof field.facility).toBe('string');
  expect(typeof field.severity).toBe('string');
  expect(typeof r.text).toBe('string');
}

// ---- generators of valid lines, with what they must parse to ----

const printable = (min: number, max: number) =>
  fc.string({ unit: fc.integer({ min: 33, max: 126 }).map((c) => String.fromCharCode(c)), minLength: min, maxLength: max });
const headerField = fc.oneof(fc.constant(null), printable(1, 48).filter((s) => s !== '-'));
const sdName = fc.string({
  unit: fc.integer({ min: 33, max: 126 }).filter((c) => c !== 61 && c !== 93 && c !== 34).map((c) => String.fromCharCode(c)),
  minLength: 1,
  maxLength: 32,
});
/** Message text as it can arrive: any Unicode, but the frame's own end (CR, LF, NUL) is framing. */
const messageText = fc.string({ unit: 'grapheme', maxLength: 80 }).filter((s) => !/[\r\n\0]$/.test(s) && !s.startsWith('\uFEFF'));
const escapeSd = (v: string): string => v.replace(/[\\"\]]/g, (c) => '\\' + c);

const rfc5424 = fc
  .record({
    pri: fc.integer({ min: 0, max: 191 }),
    timestamp: fc.oneof(fc.constant(null), fc.date({ min: new Date(0), max: new Date(4e12), noInvalidDate: true }).map((d) => d.toISOString())),
    hostname: headerField,
    appname: headerField,
    procid: headerField,
    msgid: headerField,
    sd: fc.option(
      fc.uniqueArray(fc.tuple(sdName, fc.uniqueArray(fc.tuple(sdName, fc.string({ maxLength: 20 })), { selector: ([n]) => n, maxLength: 3 })), {
        selector: ([id]) => id,
        minLength: 1,
        maxLength: 3,
      }),
      { nil: null },
    ),
    text: fc.option(messageText, { nil: null }),
    bom: fc.boolean(),
  })
  .map((g) => {
    const nil = (v: string | null): string => v ?? '-';
    const sd = g.sd === null ? '-' : g.sd.map(([id, params]) => `[${id}${params.map(([n, v]) => ` ${n}="${escapeSd(v)}"`).join('')}]`).join('');
    const msg = g.text === null ? '' : ' ' + (g.bom ? '\uFEFF' : '') + g.text;
    const line = `<${g.pri}>1 ${nil(g.timestamp)} ${nil(g.hostname)} ${nil(g.appname)} ${nil(g.procid)} ${nil(g.msgid)} ${sd}${msg}`;
    const expected = {
      facility: g.pri >> 3,
      severity: g.pri & 7,
      timestamp: g.timestamp,
      hostname: g.hostname,
      appname: g.appname,
      procid: g.procid,
      msgid: g.msgid,
      structuredData: g.sd === null ? null : Object.fromEntries(g.sd.map(([id, params]) => [id, Object.fromEntries(params)])),
      text: g.text ?? '',
    };
    return { line, expected };
  });

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const two = (n: number): string => String(n).padStart(2, '0');
const bsdTime = fc
  .tuple(fc.constantFrom(...MONTHS), fc.integer({ min: 1, max: 31 }), fc.integer({ min: 0, max: 23 }), fc.integer({ min: 0, max: 59 }), fc.integer({ min: 0, max: 59 }))
  .map(([m, d, h, mi, s]) => `${m} ${String(d).padStart(2, ' ')} ${two(h)}:${two(mi)}:${two(s)}`);
const hostName = fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9.-]{0,30}$/);
const tagName = fc.stringMatching(/^[A-Za-z0-9_][A-Za-z0-9_./-]{0,30}$/);

/** RFC 3164 lines, some without PRI (then user.notice, as rsyslog reads them). */
const rfc3164 = fc
  .record({
    pri: fc.option(fc.integer({ min: 0, max: 191 }), { nil: null, freq: 4 }),
    timestamp: bsdTime,
    hostname: fc.option(hostName, { nil: null }),
    appname: tagName,
    procid: fc.option(fc.stringMatching(/^[0-9]{1,7}$/), { nil: null }),
    text: messageText,
  })
  .map((g) => ({
    line: `${g.pri === null ? '' : `<${g.pri}>`}${g.timestamp} ${g.hostname === null ? '' : g.hostname + ' '}${g.appname}${g.procid === null ? '' : `[${g.procid}]`}: ${g.text}`,
    expected: {
      facility: g.pri === null ? 1 : g.pri >> 3,
      severity: g.pri === null ? 5 : g.pri & 7,
      timestamp: g.timestamp,
      hostname: g.hostname,
      appname: g.appname,
      procid: g.procid,
      msgid: null,
      structuredData: null,
      text: g.text,
    },
  }));

/** Edits a valid line: deletions, insertions of any characters, replacements, truncation. */
const mutated = (valid: fc.Arbitrary<{ line: string }>) =>
  fc
    .tuple(
      valid,
      fc.array(
        fc.oneof(
          fc.record({ op: fc.constant('delete' as const), at: fc.nat(), len: fc.integer({ min: 1, max: 8 }) }),
          fc.record({ op: fc.constant('insert' as const), at: fc.nat(), s: fc.oneof(fc.string({ unit: 'binary', maxLength: 6 }), fc.constantFrom('[', ']', '"', '\\', ' ', '-', '<', '>', '=', '\n', '\0', '\uFEFF', '1 ', ':')) }),
          fc.record({ op: fc.constant('truncate' as const), at: fc.nat() }),
        ),
        { minLength: 1, maxLength: 4 },
      ),
    )
    .map(([{ line }, edits]) => {
      let s = line;
      for (const e of edits) {
        const at = s.length === 0 ? 0 : e.at % (s.length + 1);
        if (e.op === 'delete') s = s.slice(0, at) + s.slice(at + e.len);
        else if (e.op === 'insert') s = s.slice(0, at) + e.s + s.slice(at);
        else s = s.slice(0, at);
      }
      return s;
    });

describe('syslog parsers (property-based)', () => {
  it('parse every generated RFC 5424 line back to its fields', () => {
    fc.assert(fc.property(rfc5424, ({ line, expected }) => {
      expect(parseSyslog(line)).toEqual(expected);
    }), { numRuns: 500 });
  });

  it('parse every generated RFC 3164 line back to its fields', () => {
    fc.assert(fc.property(rfc3164, ({ line, expected }) => {
      expect(parseSyslog(line)).toEqual(expected);
    }), { numRuns: 500 });
  });

  it('turn mutated lines into an event or a counted reason, never an exception', () => {
    fc.assert(fc.property(fc.oneof(mutated(rfc5424), mutated(rfc3164)), (line) => checkOutcome(parseSyslog(line))), { numRuns: 2000 });
  });

  it('with the header cache, give exactly what the parser gives', () => {
    fc.assert(
      fc.property(fc.array(rfc3164, { minLength: 1, maxLength: 5 }), fc.array(fc.oneof(mutated(rfc3164), rfc3164.map((g) => g.line)), { maxLength: 20 }), (seen, lines) => {
        const cache = new SyslogHeaderCache<SyslogMessage>();
        for (const { line } of seen) {
          const m = parseSyslog(line) as SyslogMessage;
          cache.set(line, m, m);
        }
        // Lines that share a header with one seen, with other texts, and edited lines.
        const probes = [...lines, ...seen.map(({ line, expected }) => line.slice(0, line.length - expected.text.length) + lines.join(' '))];
        for (const line of probes) {
          const hit = cache.get(line);
          if (hit === undefined) continue;
          expect({ ...hit, text: cache.text(line) }).toEqual(parseSyslog(line));
        }
      }),
      { numRuns: 1000 },
    );
  });

  it('with the header cache, find every kept header again from the bytes, wherever the message starts in a chunk', () => {
    let kept = 0;
    fc.assert(
      fc.property(fc.array(rfc3164, { minLength: 1, maxLength: 5 }), fc.nat(7), fc.string({ maxLength: 20 }), (seen, offset, text) => {
        const cache = new SyslogHeaderCache<SyslogMessage>();
        for (const { line } of seen) {
          const m = parseSyslog(line) as SyslogMessage;
          cache.set(line, m, m);
        }
        for (const { line, expected } of seen) {
          const header = line.slice(0, line.length - expected.text.length);
          // What set() keeps: an ASCII header ending at the first ': ' (others take the string path).
          const value = cache.get(header + text);
          if (value === undefined || !/^[\x00-\x7f]*$/.test(header)) continue;
          kept++;
          const buf = Buffer.concat([Buffer.alloc(offset, 0x3a), Buffer.from(header + text + '\n')]);
          expect(cache.getBytes(buf, offset, buf.length - 1)).toBe(value);
          expect(cache.textStart).toBe(offset + header.length);
        }
      }),
      { numRuns: 1000 },
    );
    expect(kept).toBeGreaterThan(500);
  });

  it('find text that needs no JSON escapes and is UTF-8 as a check of every byte does', () => {
    const byte = fc.oneof(fc.integer({ min: 0x20, max: 0x7e }), fc.constantFrom(0, 9, 10, 13, 0x1f, 0x22, 0x5c, 0x7f, 0x80, 0xa2, 0xdc, 0xff), fc.integer({ min: 0, max: 255 }));
    // Single bytes, and whole UTF-8 characters of 2, 3 and 4 bytes (é, €, an emoji).
    const piece = fc.oneof(byte.map((c) => [c]), fc.constantFrom([0xc3, 0xa9], [0xe2, 0x82, 0xac], [0xf0, 0x9f, 0x98, 0x80]));
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 40 }), fc.nat(5), fc.nat(5), (pieces, before, after) => {
        const buf = Buffer.from(pieces.flat());
        const start = Math.min(before, buf.length);
        const end = Math.max(start, buf.length - after);
        let trimmed = end;
        while (trimmed > start && [10, 13, 0].includes(buf[trimmed - 1])) trimmed--;
        const text = buf.subarray(start, trimmed);
        // Bytes that stand in a JSON string as they are: nothing to escape, and valid UTF-8.
        const plain = text.every((c) => c >= 0x20 && c !== 0x22 && c !== 0x5c) && isUtf8(text);
        expect(plainTextEnd(buf, start, end)).toBe(plain ? trimmed : -1);
      }),
      { numRuns: 5000 },
    );
  });

  it('from the bytes of a frame, give the header and text JSON that the string path gives', () => {
    const trailer = fc.constantFrom('', '\n', '\r\n', '\0', '\r\0');
    // Texts after a header that was seen: any Unicode, invalid UTF-8 and raw control bytes.
    const text = fc.tuple(fc.oneof(messageText.map((t) => Buffer.from(t)), fc.uint8Array({ maxLength: 12 }).map((a) => Buffer.from(a))), trailer);
    let hits = 0;
    fc.assert(
      fc.property(fc.array(rfc3164, { minLength: 1, maxLength: 5 }), fc.array(fc.tuple(fc.nat(), text), { maxLength: 10 }), fc.array(mutated(rfc3164), { maxLength: 5 }), fc.nat(3), (seen, texts, edited, offset) => {
        const cache = new SyslogHeaderCache<SyslogMessage>();
        for (const { line } of seen) {
          const m = parseSyslog(line) as SyslogMessage;
          cache.set(line, m, m);
        }
        const frames = [
          ...texts.map(([i, [t, end]]) => {
            const { line, expected } = seen[i % seen.length];
            return Buffer.concat([Buffer.from(line.slice(0, line.length - expected.text.length)), t, Buffer.from(end)]);
          }),
          ...edited.map((line) => Buffer.from(line)),
        ];
        for (const frame of frames) {
          // The frame somewhere inside a larger buffer, as the stream decoder hands it over.
          const buf = Buffer.concat([Buffer.alloc(offset, 0x41), frame, Buffer.from('<13>x: y')]);
          const end = offset + frame.length;
          const hit = cache.getBytes(buf, offset, end);
          const textStart = cache.textStart;
          const line = frame.toString('utf8');
          if (hit === undefined) continue;
          expect(cache.get(line)).toBe(hit);
          const textEnd = plainTextEnd(buf, textStart, end);
          if (textEnd < 0) continue;
          hits++;
          const parsed = parseSyslog(line) as SyslogMessage;
          expect({ ...hit, text: buf.toString('utf8', textStart, textEnd) }).toEqual(parsed);
          expect('"' + buf.toString('utf8', textStart, textEnd) + '"').toBe(JSON.stringify(parsed.text));
        }
      }),
      { numRuns: 1000 },
    );
    expect(hits).toBeGreaterThan(1000);
  });

  it('keep every line without <PRI> as user.notice, its text the end of the line', () => {
    const noPri = fc.string({ unit: 'binary', maxLength: 120 }).filter((l) => !/^<\d+>/.test(l));
    fc.assert(
      fc.property(noPri, (line) => {
        const m = parseSyslog(line);
        if (isSyslogProblem(m)) throw new Error(`refused ${JSON.stringify(line)}: ${m.detail}`);
        expect([m.facility, m.severity]).toEqual([1, 5]);
        expect(line.replace(/[\r\n\0]+$/, '').endsWith(m.text)).toBe(true);
        checkOutcome(m);
      }),
      { numRuns: 2000 },
    );
  });

  it('turn random input into an event or a counted reason, never an exception', () => {
    fc.assert(fc.property(fc.string({ unit: 'binary', maxLength: 200 }), (s) => checkOutcome(parseSyslog(s))), { numRuns: 2000 });
    fc.assert(fc.property(fc.string({ unit: 'binary', maxLength: 200 }), (s) => checkOutcome(parseSyslog('<13>' + s))), { numRuns: 1000 });
    fc.assert(fc.property(fc.string({ unit: 'binary', maxLength: 200 }), (s) => checkOutcome(parseSyslog('<13>1 ' + s))), { numRuns: 1000 });
  });
});

function decodeAll(chunks: Buffer[], maxFrameBytes?: number, nulTerminates = false): { frames: Buffer[]; problems: FrameProblem[] } {
  const frames: Buffer[] = [];
  const problems: FrameProblem[] = [];
  const d = new FrameDecoder(
    {
      frame: (buf, start, end) => {
        expect(0 <= start && start <= end && end <= buf.length).toBe(true);
        frames.push(Buffer.from(buf.subarray(start, end)));
      },
      problem: (r) => problems.push(r),
    },
    { octetCounting: true, nulTerminates, maxFrameBytes: maxFrameBytes ?? 64 * 1024 },
  );
  for (const c of chunks) d.push(c);
  d.end();
  return { frames, problems };
}

/** Cuts `buf` at the given points (any order, any number). */
function cut(buf: Buffer, points: number[]): Buffer[] {
  const at = [...new Set(points.map((p) => p % (buf.length + 1)))].sort((a, b) => a - b);
  const out: Buffer[] = [];
  let from = 0;
  for (const p of at) {
    out.push(buf.subarray(from, p));
    from = p;
  }
  out.push(buf.subarray(from));
  return out;
}

describe('the framing decoder (property-based)', () => {
  it('gives back every message, whatever the framing of each and wherever the stream is cut', () => {
    const message = fc.tuple(fc.integer({ min: 0, max: 191 }), fc.string({ unit: 'grapheme', maxLength: 60 })).map(([pri, t]) => `<${pri}>${t}`);
    const framing = fc.constantFrom('counted', 'newline', 'nul');
    fc.assert(
      fc.property(fc.array(fc.tuple(message, framing), { maxLength: 12 }), fc.array(fc.nat(), { maxLength: 6 }), fc.boolean(), (msgs, points, nulTerminates) => {
        // A line cannot hold its own end (newline, a NUL where NUL ends messages, a CR last): those go octet-counted.
        const ends = nulTerminates ? /[\n\r\0]/ : /[\n\r]/;
        const wire = msgs
          .map(([m, how]) => (how === 'counted' || ends.test(m) || (how === 'nul' && !nulTerminates) ? `${Buffer.byteLength(m)} ${m}` : how === 'nul' ? `${m}\0` : `${m}\n`))
          .join('');
        const { frames, problems } = decodeAll(cut(Buffer.from(wire), points), undefined, nulTerminates);
        expect(problems).toEqual([]);
        expect(frames.map((f) => f.toString())).toEqual(msgs.map(([m]) => m));
      }),
      { numRuns: 1000 },
    );
  });

  it('when splitting, hands over every message whole or in pieces that join back into it, each piece within the limit and whole UTF-8', () => {
    const message = fc.tuple(fc.integer({ min: 0, max: 191 }), fc.string({ unit: 'grapheme', maxLength: 90 })).map(([pri, t]) => `<${pri}>${t}`);
    const framing = fc.constantFrom('counted', 'newline', 'nul');
    fc.assert(
      fc.property(fc.array(fc.tuple(message, framing), { maxLength: 10 }), fc.array(fc.nat(), { maxLength: 6 }), fc.integer({ min: 8, max: 40 }), fc.nat(8), (msgs, points, maxFrame, less) => {
        const splitBytes = Math.max(8, maxFrame - less);
        const wire = msgs
          .map(([m, how]) => (how === 'counted' || /[\n\r\0]/.test(m) ? `${Buffer.byteLength(m)} ${m}` : how === 'nul' ? `${m}\0` : `${m}\n`))
          .join('');
        const joined: string[] = [];
        const problems: FrameProblem[] = [];
        let open: Buffer[] | null = null;
        const d = new FrameDecoder(
          {
            frame: (buf, start, end, piece: FramePiece) => {
              const bytes = Buffer.from(buf.subarray(start, end));
              if (piece === 'whole') {
                expect(open).toBeNull();
                expect(bytes.length).toBeLessThanOrEqual(maxFrame);
                joined.push(bytes.toString());
                return;
              }
              expect(open === null).toBe(piece === 'first');
              expect(bytes.length).toBeLessThanOrEqual(splitBytes);
              // Cut between characters: each piece decodes to itself.
              expect(Buffer.from(bytes.toString()).equals(bytes)).toBe(true);
              open = [...(open ?? []), bytes];
              if (piece === 'last') {
                joined.push(Buffer.concat(open).toString());
                open = null;
              }
            },
            problem: (r) => problems.push(r),
          },
          { octetCounting: true, nulTerminates: true, maxFrameBytes: maxFrame, splitBytes },
        );
        for (const c of cut(Buffer.from(wire), points)) d.push(c);
        d.end();
        expect(problems).toEqual([]);
        expect(open).toBeNull();
        expect(joined).toEqual(msgs.map(([m]) => m));
      }),
      { numRuns: 1000 },
    );
  });

  it('cuts JSON string content into pieces within the limit that are JSON string content and join back into the text', () => {
    const text = fc.oneof(fc.string({ unit: 'grapheme', maxLength: 80 }), fc.string({ unit: 'binary', maxLength: 80 }), fc.string({ maxLength: 80 }));
    fc.assert(
      fc.property(text, fc.integer({ min: 6, max: 30 }), (t, max) => {
        const pieces = cutJsonStringContent(JSON.stringify(t).slice(1, -1), max);
        for (const p of pieces) expect(Buffer.byteLength(p)).toBeLessThanOrEqual(max);
        expect(pieces.map((p) => JSON.parse(`"${p}"`)).join('')).toBe(t);
        // No piece is empty unless the text is.
        expect(pieces.every((p) => p.length > 0) || t === '').toBe(true);
      }),
      { numRuns: 3000 },
    );
  });

  it('finds the message of an octet-counted datagram, and leaves any other datagram whole', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), fc.constantFrom('', '\n', '\0', '\r\n'), (bytes, trailer) => {
        const message = Buffer.from(bytes);
        const counted = Buffer.concat([Buffer.from(`${message.length} `), message, Buffer.from(trailer)]);
        expect(datagramMessageStart(counted)).toBe(message.length === 0 ? 0 : counted.length - message.length - trailer.length);
        if (message[0] === 60 /* < */) expect(datagramMessageStart(message)).toBe(0);
        // A start is always inside the datagram and after a count that fits it.
        const start = datagramMessageStart(message);
        expect(start === 0 || Number(message.toString('latin1', 0, start - 1)) <= message.length - start).toBe(true);
      }),
      { numRuns: 2000 },
    );
  });

  it('never throws on random bytes and only reports known problems', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 400 }), fc.array(fc.nat(), { maxLength: 6 }), fc.integer({ min: 1, max: 64 }), (bytes, points, max) => {
        const { frames, problems } = decodeAll(cut(Buffer.from(bytes), points), max);
        for (const p of problems) expect(FRAME_PROBLEMS).toContain(p);
        for (const f of frames) {
          expect(f.length).toBeLessThanOrEqual(max);
          checkOutcome(parseSyslog(f.toString('utf8')));
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('never throws on mutated streams of valid lines', () => {
    const stream = fc.array(fc.oneof(rfc5424, rfc3164), { minLength: 1, maxLength: 5 }).map((ls) => ls.map(({ line }) => `${Buffer.byteLength(line)} ${line}`).join(''));
    fc.assert(
      fc.property(mutated(stream.map((line) => ({ line }))), fc.array(fc.nat(), { maxLength: 4 }), (s, points) => {
        const { frames, problems } = decodeAll(cut(Buffer.from(s), points));
        for (const p of problems) expect(FRAME_PROBLEMS).toContain(p);
        for (const f of frames) checkOutcome(parseSyslog(f.toString('utf8')));
      }),
      { numRuns: 1000 },
    );
  });
});

describe('syslog input over a stream', () => {
  it('publishes each message of a seen header from its bytes as the parser reads it: quotes, backslashes, control bytes and invalid UTF-8 in the text', async () => {
    // Texts with what JSON escapes, non-ASCII, and bytes that are not UTF-8.
    const piece = fc.oneof(messageText.map((t) => Buffer.from(t)), fc.constantFrom('"', '\\', '\t', '\x01', '\x1f', 'é', '"GET / HTTP/1.1" 200').map((t) => Buffer.from(t)), fc.uint8Array({ maxLength: 6 }).map((a) => Buffer.from(a)));
    const text = fc.array(piece, { maxLength: 6 }).map((parts) => Buffer.concat(parts)).filter((b) => !b.includes(10) && !b.includes(13) && !b.includes(0));
    await fc.assert(
      fc.asyncProperty(fc.array(rfc3164, { minLength: 1, maxLength: 3 }), fc.array(fc.tuple(fc.nat(), text), { minLength: 1, maxLength: 12 }), async (seen, texts) => {
        const events: Array<{ key: string; event: { text: string; syslog: { appname: string | null } } }> = [];
        const publisher = new DirectPublisher({
          nodeId: 'n',
          maxEvent: 1 << 20,
          deliver: (batches) => {
            for (const b of batches) decodeBatch(b.body, { event: (key, json) => events.push({ key, event: JSON.parse(json) }), malformed: () => expect.fail('malformed batch') });
          },
        });
        const input = new SyslogInput({ publisher, limiter: new RateLimiter({ rate: 1e9, burst: 1e9 }), maxEvent: 1 << 20, malformed: () => {} });
        const decoder = new FrameDecoder(input.connection({ uri: 'test' }), input.framing());
        // Each header twice in a row at least: the first parsed, the next from the bytes.
        const frames = [...seen.map(({ line }) => Buffer.from(line)), ...texts.map(([i, t]) => {
          const { line, expected } = seen[i % seen.length];
          return Buffer.concat([Buffer.from(line.slice(0, line.length - expected.text.length)), t]);
        })].filter((f) => f.length > 0 && !(f[0] >= 0x30 && f[0] <= 0x39));
        decoder.push(Buffer.concat(frames.flatMap((f) => [f, Buffer.from('\n')])));
        await new Promise((r) => setImmediate(r));
        const parsed = frames.map((f) => parseSyslog(f.toString('utf8'))).filter((m): m is SyslogMessage => !isSyslogProblem(m));
        expect(events.map((e) => [e.key, e.event.text, e.event.syslog.appname])).toEqual(parsed.map((m) => [syslogKey(m.appname), m.text, m.appname]));
      }),
      { numRuns: 300 },
    );
  });
});
