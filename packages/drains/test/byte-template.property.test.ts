import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compileByteTemplate, compileFormat } from '../src/index.js';
import { OUT_SLACK } from '../src/buffer.js';
import { ByteTemplate } from '../src/byte-template.js';
import { ABSENT, TopLevelFieldBytes } from '../src/event-bytes.js';
import { anyJsonText, eventObject, name, template } from './event-generators.js';

const RUNS = 2000;

/** The bytes the drain's buffer holds for these events, as takeBytes gives them. */
function wireOf(events: Array<[string, Buffer]>): { wire: Buffer; lineBytes: Int32Array; keyBytes: Int32Array } {
  const lines = events.map(([key, json]) => Buffer.concat([Buffer.from(key), Buffer.from(' '), json, Buffer.from('\n')]));
  return {
    wire: Buffer.concat(lines),
    lineBytes: Int32Array.from(lines, (line) => line.length),
    keyBytes: Int32Array.from(events, ([key]) => Buffer.byteLength(key)),
  };
}

/** What the string path writes for these events: each decoded from the buffer's bytes, formatted, encoded. */
function stringPath(format: string, events: Array<[string, Buffer]>): Buffer {
  const formatter = compileFormat(format, {});
  return Buffer.from(events.map(([key, json]) => formatter(Buffer.from(key).toString(), json.toString())).join(''));
}

/**
 * What the byte path writes for these events: the same whether the output goes after the lines
 * in the batch's block (the room takeBytes keeps for a template, here sometimes too short) or in
 * memory of its own.
 */
function bytePath(format: string, events: Array<[string, Buffer]>): Buffer {
  const byteTemplate = compileByteTemplate(format, {});
  if (byteTemplate === null) throw new Error(`no byte path for ${format}`);
  const { wire, lineBytes, keyBytes } = wireOf(events);
  const count = events.length;
  const own = Buffer.from(byteTemplate.format({ block: wire, wire, lineBytes, keyBytes, count }));
  for (const room of [wire.length + count * byteTemplate.roomPerEvent + OUT_SLACK, wire.length >> 1]) {
    const block = Buffer.alloc(wire.length + room);
    wire.copy(block);
    const batch = { block, wire: block.subarray(0, wire.length), lineBytes, keyBytes, count };
    const out = byteTemplate.format(batch);
    expect(Buffer.from(out)).toEqual(own);
    expect(block.subarray(0, wire.length)).toEqual(wire);
    ByteTemplate.done(out, batch);
  }
  return own;
}

/** Numbers as JSON allows them, many of which JSON.stringify writes otherwise (1.50, 1E5, -0, 1e400). */
const numberText = fc
  .tuple(fc.constantFrom('', '-'), fc.oneof(fc.constant('0'), fc.bigInt({ min: 1n, max: 10n ** 25n }).map(String)), fc.constantFrom('', '.0', '.50', '.123456789012345678'), fc.constantFrom('', 'e5', 'E+2', 'e-7', 'e400', 'e-400'))
  .map((parts) => parts.join(''));

/** Bytes that are not UTF-8 (a lone continuation, a cut sequence, an encoded surrogate, 0xff) and others that matter to a scan. */
const ODD_BYTES = [[0xff], [0x80], [0xc3], [0xe2, 0x82], [0xed, 0xa0, 0x80], [0xf4, 0x90, 0x80, 0x80], [0x00], [0x22], [0x5c], [0x0a], [0xc3, 0xa9]];

const eventBytes = fc.oneof(
  anyJsonText.map((json) => Buffer.from(json)),
  fc.tuple(numberText, numberText).map(([a, b]) => Buffer.from(`{"text":${a},"name":"n","node_id":${b}}`)),
  // Any bytes put into an event: JSON.parse sees them decoded (U+FFFD), the scan must not pass them through.
  fc.tuple(anyJsonText, fc.array(fc.tuple(fc.nat(), fc.constantFrom(...ODD_BYTES)), { minLength: 1, maxLength: 3 })).map(([json, edits]) => {
    let bytes = Buffer.from(json);
    for (const [at, insert] of edits) {
      const i = at % (bytes.length + 1);
      bytes = Buffer.concat([bytes.subarray(0, i), Buffer.from(insert), bytes.subarray(i)]);
    }
    return bytes;
  }),
);

const key = fc.oneof(fc.constantFrom('systail.nginx.n1', 'logyard.notice', 'a'), fc.string({ maxLength: 5 }));
const events = fc.array(fc.tuple(key, eventBytes), { minLength: 1, maxLength: 6 });
const topLevelTemplate = template.filter((t) => !/\{\{[^}]*\.[^}]*\}\}/.test(t));

describe('templates on bytes: the same output as the string path', () => {
  it('for random, adversarial and broken events, valid UTF-8 or not', () => {
    fc.assert(
      fc.property(topLevelTemplate, events, (t, batch) => {
        expect(bytePath(t, batch).toString('hex')).toBe(stringPath(t, batch).toString('hex'));
      }),
      { numRuns: RUNS },
    );
  });

  it('the scan either declines or finds each field where JSON.parse does', () => {
    let scanned = 0;
    fc.assert(
      fc.property(fc.uniqueArray(name, { minLength: 1, maxLength: 4 }), eventBytes, (names, bytes) => {
        const scanner = new TopLevelFieldBytes(names);
        if (!scanner.scan(bytes, 0, bytes.length)) return;
        scanned++;
        const event = JSON.parse(bytes.toString()) as Record<string, unknown>;
        expect(typeof event === 'object' && event !== null && !Array.isArray(event)).toBe(true);
        names.forEach((n, i) => {
          const [kind, start, end] = scanner.found.subarray(i * 3, i * 3 + 3);
          expect(kind === ABSENT ? undefined : JSON.parse(bytes.toString('utf8', start, end))).toStrictEqual(Object.hasOwn(event, n) ? event[n] : undefined);
        });
      }),
      { numRuns: RUNS },
    );
    // Declining everything would pass the comparisons trivially.
    expect(scanned).toBeGreaterThan(RUNS / 10);
  });

  it('find, for an event JSON.stringify wrote (a known-valid line), finds each field where the scan does', () => {
    fc.assert(
      fc.property(fc.uniqueArray(name, { minLength: 1, maxLength: 4 }), eventObject, (names, object) => {
        const bytes = Buffer.from(JSON.stringify(object));
        const event = JSON.parse(bytes.toString()) as Record<string, unknown>;
        const scanner = new TopLevelFieldBytes(names);
        const scanned = scanner.scan(bytes, 0, bytes.length);
        const checked = scanner.found.slice();
        // find declines only what scan declines (keys with escapes, deep nesting), never the reverse.
        if (!scanner.find(bytes, 0, bytes.length)) return;
        if (scanned) expect([...scanner.found]).toEqual([...checked]);
        else names.forEach((n, i) => {
          const [kind, start, end] = scanner.found.subarray(i * 3, i * 3 + 3);
          expect(kind === ABSENT ? undefined : JSON.parse(bytes.toString('utf8', start, end))).toStrictEqual(Object.hasOwn(event, n) ? event[n] : undefined);
        });
      }),
      { numRuns: RUNS },
    );
  });

  it('for known-valid lines, texts with escaped quotes and runs of backslashes before a quote, a block reused for another batch', () => {
    // Texts of quotes, backslashes and other bytes: runs of `\\` before an escaped or a closing quote.
    const text = fc.string({ unit: fc.constantFrom('a', '"', '\\', '\\\\', '\\"', '\n', 'é', '{', '}'), maxLength: 12 });
    const events = fc.array(fc.tuple(text, fc.option(text, { nil: undefined })), { minLength: 1, maxLength: 6 });
    const byteTemplate = compileByteTemplate('{{text}}|{{name}}', {});
    if (byteTemplate === null) throw new Error('no byte path');
    const block = Buffer.alloc(64 * 1024);
    // One view of the block for every batch, as a reused block may give (its lines first, then spaces).
    const lines = block.subarray(0, 16 * 1024);
    fc.assert(
      fc.property(events, events, (first, second) => {
        // The same block holds one batch, then another (the template must not remember the first's bytes).
        for (const pairs of [first, second]) {
          const batch: Array<[string, Buffer]> = pairs.map(([t, n]) => ['syslog.web', Buffer.from(JSON.stringify(n === undefined ? { text: t, node_id: 'n1' } : { text: t, name: n, syslog: { text: t } }))]);
          const { wire, lineBytes, keyBytes } = wireOf(batch);
          lines.fill(0x20);
          wire.copy(lines);
          const count = batch.length;
          const marked = { block, wire: lines, lineBytes, keyBytes, count, knownValid: new Uint8Array(count).fill(1) };
          const out = byteTemplate.format(marked);
          expect(Buffer.from(out).toString()).toBe(stringPath('{{text}}|{{name}}', batch).toString());
          ByteTemplate.done(out, marked);
        }
      }),
      { numRuns: RUNS },
    );
  });

  it('for the default formats on the events receivers write', () => {
    const syslog = '{"text":"a \\"quoted\\" line \\u00e9 \\ud83d\\ude00 \\udc00","node_id":"n1","unix_time":1700000000.123,"human_time":"2023-11-14T22:13:20.123+00:00","syslog":{"facility":"daemon","text":"nested","appname":"web"}}';
    const plain = '{"text":"GET /index.html 200 \\"-\\" é","name":"nginx","node_id":"n1","unix_time":1700000000,"text":"the later one wins"}';
    const notice = '{"text":"logyard: dropped 3 events","node_id":"n1","type":"notice","desc":"dropped","text":{"odd":[1,2.50,"\\u0041"]}}';
    const batch: Array<[string, Buffer]> = [syslog, plain, notice, '{"text":"ends with a newline\\n"}', '{"text":"\\"text\\":\\"fake\\""}', '{}', '[]', 'not json'].map((json) => ['syslog.web', Buffer.from(json)]);
    for (const format of ['{{text}}', '{{name}}@{{node_id}}: {{text}}', '{{type}}@{{node_id}}: {{desc}}', '{{key}} {{unix_time}} {{syslog}}', '{{text}}\n']) {
      expect(bytePath(format, batch).toString()).toBe(stringPath(format, batch).toString());
    }
  });

  it('is not taken for json, raw, nested fields or formats that cannot be used', () => {
    for (const format of ['json', 'raw', '{{info.pid}}', 'nosuchformat', '{{text']) expect(compileByteTemplate(format, {})).toBeNull();
    expect(compileByteTemplate('systail', {})).not.toBeNull();
    expect(compileByteTemplate('mine', { mine: '{{key}}: {{text}}' })).not.toBeNull();
  });
});
