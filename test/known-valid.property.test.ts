// Batches of the in-core syslog receiver are marked known valid (bus WireBatch.knownValid) from
// its encoder through the core's routing into a drain's buffer, whose byte template then finds
// the fields of such a line without checking the rest of it. These properties hold the fast path
// to the checked one: the same output for any event the receiver writes, and publish.sock's lines
// (unmarked) still checked and, when malformed, counted and dropped, in the same drain. A
// publish.sock batch may be marked too (its header's " v", bus wire.ts) and any local process can
// mark one: marked bytes that are not valid JSON never make the core throw or hang, and what a
// template writes for a line comes from that line's bytes alone.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DirectPublisher, RateLimiter, type MalformedReason, type WireRun } from '@logyard/bus';
import { SyslogInput } from '../packages/receive/src/syslog-input.js';
import { FrameRouter } from '../packages/core/src/frame-router.js';
import { EventBuffer } from '../packages/drains/src/buffer.js';
import { ByteTemplate } from '../packages/drains/src/byte-template.js';
import { compileByteTemplate, compileFormat } from '../packages/drains/src/formats.js';

const MAX_EVENT = 65_536;
const TEMPLATES = ['{{text}}', '{{syslog}}', '{{node_id}} {{text}}', '{{key}}: {{syslog}} {{text}}|{{human_time}}', '{{unix_time}} {{missing}}{{text}}'];

/** A text as a sender may put it in a message: quotes, backslashes, control bytes, any Unicode. */
const text = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 80 }),
  fc.string({ unit: fc.constantFrom('a', ' ', '"', '\\', '\t', '\x01', '\x7f', 'é', '€', '𝄞', '{', '}', ',', ':', '[', ']'), maxLength: 60 }),
);
const app = fc.constantFrom('web', 'db', 'cron-job', 'a.b', 'x"y');

/** RFC 3164 messages (their headers cached: the bytes path) and RFC 5424 ones with structured data (the string path). */
const syslogMessage = fc.oneof(
  fc.tuple(app, fc.integer({ min: 0, max: 191 }), text).map(([a, pri, t]) => `<${pri}>Nov 20 10:00:00 host ${a}[12]: ${t}`),
  fc.tuple(app, fc.string({ unit: fc.constantFrom('a', '"', '\\', ']', 'é'), maxLength: 8 }), text).map(
    ([a, v, t]) => `<165>1 2026-11-30T10:00:00.123Z host ${a.replace(/\W/g, '_')} 77 ID7 [ex@1 k="${v.replace(/["\\\]]/g, (c) => '\\' + c)}"] ${t}`,
  ),
);

/** A message as bytes, sometimes with bytes that are not UTF-8 (or NUL, quote, backslash) put into its text. */
const ODD_BYTES = [[0xff], [0x80], [0xc3], [0xe2, 0x82], [0xed, 0xa0, 0x80], [0x00], [0x22], [0x5c], [0x0d]];
const syslogBytes = fc.oneof(
  syslogMessage.map((m) => Buffer.from(m)),
  fc.tuple(syslogMessage, fc.nat(), fc.constantFrom(...ODD_BYTES)).map(([m, at, odd]) => {
    const bytes = Buffer.from(m);
    const textStart = bytes.indexOf(': ') >= 0 ? bytes.indexOf(': ') + 2 : bytes.indexOf('] ') + 2;
    const i = textStart + (at % (bytes.length - textStart + 1));
    return Buffer.concat([bytes.subarray(0, i), Buffer.from(odd), bytes.subarray(i)]);
  }),
);

/** Lines of publish.sock as any local process may send them: good, malformed (counted by the core) and broken JSON. */
const socketLine = fc.constantFrom(
  'syslog.web {"text":"socket-ok","syslog":{"a":[1,{"b":"}"}]}}',
  'syslog.web {"text":"socket-broken","syslog":{"a":}}',
  'syslog.web {"text":"socket-dup","text":"socket-second"}',
  'syslog.web { "text" : "socket-spaced" }',
  'syslog.web not-an-event',
  'bad..key {"text":"socket-bad-key"}',
);

type Item = { syslog: Buffer } | { socket: string; marked?: boolean };

/** Routes the items into one drain's buffer as the core does: the receiver's through a DirectPublisher, the socket's as frames. */
async function fill(items: Item[]): Promise<{ buffer: EventBuffer; malformed: Record<string, number>; marked: boolean[] }> {
  const buffer = new EventBuffer(100_000);
  const sink = { pushRun: (run: WireRun) => buffer.pushRun(run) };
  const malformed: Record<string, number> = {};
  const router = new FrameRouter({
    sinksFor: (key) => (key.startsWith('syslog.') ? [sink] : []),
    version: () => 0,
    counted: () => {},
    malformed: (reason: MalformedReason, count: number) => (malformed[reason] = (malformed[reason] ?? 0) + count),
  });
  const marked: boolean[] = [];
  const publisher = new DirectPublisher({
    nodeId: 'node-p',
    maxEvent: MAX_EVENT,
    deliver: (batches) => {
      for (const batch of batches) {
        marked.push(batch.knownValid);
        router.route(batch.body, MAX_EVENT, batch.knownValid);
      }
    },
  });
  const input = new SyslogInput({
    publisher,
    limiter: new RateLimiter({ rate: 1e9, burst: 1e9 }),
    maxEvent: MAX_EVENT,
    malformed: (reason) => (malformed[reason] = (malformed[reason] ?? 0) + 1),
  });
  for (let i = 0; i < items.length; ) {
    if ('syslog' in items[i]) {
      for (; i < items.length && 'syslog' in items[i]; i++) input.datagram((items[i] as { syslog: Buffer }).syslog, { uri: 'udp://test' });
      // The publisher delivers what it holds on the event loop's next turn (setImmediate).
      await new Promise((resolve) => setImmediate(resolve));
    } else {
      const lines: string[] = [];
      const marked = (items[i] as { marked?: boolean }).marked === true;
      for (; i < items.length && 'socket' in items[i] && ((items[i] as { marked?: boolean }).marked === true) === marked; i++) lines.push((items[i] as { socket: string }).socket);
      router.route(Buffer.from('LY1\n' + lines.join('\n') + '\n'), MAX_EVENT, marked);
    }
  }
  return { buffer, malformed, marked };
}

/** The drain's output for what the buffer holds: the byte template as the marks say, and with every line checked. */
function outputs(buffer: EventBuffer, format: string): { fast: Buffer; checked: Buffer; strings: string; marks: Uint8Array } {
  const template = compileByteTemplate(format, {})!;
  const batch = buffer.takeBytes(100_000, false, template.roomPerEvent);
  const fastOut = template.format(batch);
  const fast = Buffer.from(fastOut);
  ByteTemplate.done(fastOut, batch);
  const marks = batch.knownValid.slice();
  const checkedOut = template.format({ ...batch, knownValid: new Uint8Array(batch.count) });
  const checked = Buffer.from(checkedOut);
  ByteTemplate.done(checkedOut, batch);
  // The string formatter, on each line decoded (the reference both byte paths must give).
  const formatter = compileFormat(format, {});
  let strings = '';
  for (let i = 0, at = 0; i < batch.count; at += batch.lineBytes[i], i++) {
    const keyEnd = at + batch.keyBytes[i];
    strings += formatter(batch.wire.toString('utf8', at, keyEnd), batch.wire.toString('utf8', keyEnd + 1, at + batch.lineBytes[i] - 1));
  }
  buffer.unshiftBytes(batch);
  return { fast, checked, strings, marks };
}

describe('events known valid (the in-core receiver\'s batches)', () => {
  it('a template writes the same for the receiver\'s events whether it checks them or finds their fields only', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(syslogBytes, { minLength: 1, maxLength: 20 }), async (messages) => {
        const { buffer, marked } = await fill(messages.map((syslog) => ({ syslog })));
        // Every batch the receiver wrote is marked, and so is each of its events in the drain.
        expect(marked.length).toBeGreaterThan(0);
        expect(marked.every(Boolean)).toBe(true);
        // What the mark vouches for: each event is exactly what JSON.stringify writes for it.
        const held = buffer.takeBytes(100_000, true);
        for (const json of held.out.toString().split('\n').slice(0, -1)) expect(json).toBe(JSON.stringify(JSON.parse(json)));
        buffer.unshiftBytes(held);
        for (const format of TEMPLATES) {
          const { fast, checked, strings, marks } = outputs(buffer, format);
          expect([...marks].every((m) => m === 1)).toBe(true);
          expect(fast.toString()).toBe(checked.toString());
          expect(fast.toString()).toBe(strings);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('publish.sock\'s lines in the same drain are checked as before: malformed ones counted and dropped, broken JSON never read as valid', async () => {
    const item = fc.oneof(syslogBytes.map((syslog): Item => ({ syslog })), socketLine.map((socket): Item => ({ socket })));
    await fc.assert(
      fc.asyncProperty(fc.array(item, { minLength: 1, maxLength: 30 }), async (items) => {
        const { buffer, malformed, marked } = await fill(items);
        const socket = items.flatMap((i) => ('socket' in i ? [i.socket] : []));
        const count = (s: string) => socket.filter((l) => l === s).length;
        // The core counts what it refuses and no drain gets it.
        expect(malformed.bad_event ?? 0).toBe(count('syslog.web not-an-event'));
        expect(malformed.bad_key ?? 0).toBe(count('bad..key {"text":"socket-bad-key"}'));
        expect(buffer.length).toBe(items.length - (malformed.bad_event ?? 0) - (malformed.bad_key ?? 0));
        expect(marked.every(Boolean)).toBe(true);
        for (const format of TEMPLATES) {
          const { fast, checked, strings, marks } = outputs(buffer, format);
          // Only the receiver's events are marked.
          expect([...marks].filter((m) => m === 1).length).toBe(items.length - socket.length);
          expect(fast.toString()).toBe(checked.toString());
          expect(fast.toString()).toBe(strings);
          const out = fast.toString();
          expect(out).not.toContain('not-an-event');
          expect(out).not.toContain('socket-bad-key');
          // Broken JSON renders its fields empty, as it always did; a duplicate key takes the last value.
          expect(out).not.toContain('socket-broken');
          if (format === '{{text}}') {
            expect(out.split('\n').filter((l) => l === 'socket-second').length).toBe(count('syslog.web {"text":"socket-dup","text":"socket-second"}'));
            expect(out.split('\n').filter((l) => l === 'socket-ok').length).toBe(count('syslog.web {"text":"socket-ok","syslog":{"a":[1,{"b":"}"}]}}'));
          }
        }
      }),
      { numRuns: 300 },
    );
  });

  it('publish.sock\'s lines in batches marked known valid: the malformed counted and dropped as before, the good ones written the same, the others never throw', async () => {
    const item = fc.oneof(syslogBytes.map((syslog): Item => ({ syslog })), socketLine.map((socket): Item => ({ socket, marked: true })));
    /** The socket's lines a batch may mark truthfully: valid as JSON.stringify writes them, or refused by the core before any drain. */
    const truthful = (i: Item): boolean => !('socket' in i) || !/socket-(broken|dup|spaced)/.test(i.socket);
    await fc.assert(
      fc.asyncProperty(fc.array(item, { minLength: 1, maxLength: 30 }), async (items) => {
        const { buffer, malformed } = await fill(items);
        const socket = items.flatMap((i) => ('socket' in i ? [i.socket] : []));
        const count = (s: string) => socket.filter((l) => l === s).length;
        expect(malformed.bad_event ?? 0).toBe(count('syslog.web not-an-event'));
        expect(malformed.bad_key ?? 0).toBe(count('bad..key {"text":"socket-bad-key"}'));
        expect(buffer.length).toBe(items.length - (malformed.bad_event ?? 0) - (malformed.bad_key ?? 0));
        for (const format of TEMPLATES) {
          const { fast, strings, marks } = outputs(buffer, format);
          expect([...marks].every((m) => m === 1)).toBe(true);
          if (items.every(truthful)) expect(fast.toString()).toBe(strings);
        }
      }),
      { numRuns: 200 },
    );
  });

  it('bytes marked known valid that are anything at all: no exception, an end, and each line written from its own bytes only', () => {
    const jsonish = fc
      .array(fc.constantFrom('{', '}', '[', ']', '"', '\\', ':', ',', 'text', 'syslog', 'node_id', '"text":', '"syslog":', '"text":"', 'u00', 'e9', 'x', '1', '-', '.', 'e', 'true', 'null', ' ', '\t', '\x01', 'é', '\xff'), { maxLength: 40 })
      .map((parts) => Buffer.from('{' + parts.join('') + '}', 'latin1'));
    const valid = fc.constantFrom(
      '{"text":"ok","syslog":{"a":[1,{"b":"}"}]},"node_id":"n","unix_time":1.5,"human_time":"h"}',
      '{"text":"a\\\\\\"b\\\\","syslog":{"k":"\\"}"},"node_id":"n\\u0001"}',
    );
    // Valid events with a byte cut out, put in, or changed.
    const mutated = fc.tuple(valid, fc.nat(), fc.integer({ min: 0, max: 255 }), fc.constantFrom('cut', 'put', 'set')).map(([v, at, byte, how]) => {
      const b = Buffer.from(v);
      const i = at % b.length;
      const put = byte === 0x0a ? 0x20 : byte;
      if (how === 'cut') return Buffer.concat([b.subarray(0, i), b.subarray(i + 1)]);
      if (how === 'put') return Buffer.concat([b.subarray(0, i), Buffer.of(put), b.subarray(i)]);
      b[i] = put;
      return b;
    });
    const raw = fc.uint8Array({ maxLength: 60 }).map((a) => Buffer.from(a.map((c) => (c === 0x0a ? 0x7b : c))));
    const line = fc.oneof(jsonish, mutated, raw);
    // Neighbours that are valid, with backslashes and quotes (what find() remembers between lines of a batch).
    const neighbours = [
      ['{"text":"before \\\\ \\"q\\"","syslog":{"x":"\\\\"},"node_id":"n","unix_time":1,"human_time":"h"}', '{"text":"after","node_id":"m"}'],
      ['{"text":"\\\\\\\\","syslog":[],"node_id":"\\"","unix_time":-0.5}', '{"text":"\\"\\\\","syslog":{}}'],
    ].map((pair) => pair.map((json) => Buffer.from(json)));
    /** What one drain writes for `lines` (events of syslog.web) routed in one batch marked known valid. */
    const render = (lines: Buffer[], format: string): Buffer => {
      const buffer = new EventBuffer(100_000);
      const router = new FrameRouter({ sinksFor: () => [{ pushRun: (run: WireRun) => buffer.pushRun(run) }], version: () => 0, counted: () => {}, malformed: () => {} });
      const frame = Buffer.concat([Buffer.from('LY1\n'), ...lines.flatMap((l) => [Buffer.from('syslog.web '), l, Buffer.from('\n')])]);
      router.route(frame, MAX_EVENT, true);
      const template = compileByteTemplate(format, {})!;
      const batch = buffer.takeBytes(100_000, false, template.roomPerEvent);
      const out = template.format(batch);
      const copy = Buffer.from(out);
      ByteTemplate.done(out, batch);
      return copy;
    };
    fc.assert(
      fc.property(fc.array(line, { minLength: 1, maxLength: 6 }), (lines) => {
        // decodeFrame keeps a line that starts with "{" and ends with "}" (the rest is the drains' to check).
        const kept = lines.filter((l) => l.length >= 2 && l[0] === 0x7b && l[l.length - 1] === 0x7d);
        for (const format of TEMPLATES) {
          const alone = render(lines, format);
          for (const [before, after] of neighbours) {
            const out = render([before, ...lines, after], format);
            expect(out.toString('hex')).toBe(Buffer.concat([render([before], format), alone, render([after], format)]).toString('hex'));
          }
          // Line by line too: a line's output is the same with or without the lines around it.
          expect(alone.toString('hex')).toBe(Buffer.concat(kept.map((l) => render([l], format))).toString('hex'));
        }
      }),
      { numRuns: 300 },
    );
  });
});
