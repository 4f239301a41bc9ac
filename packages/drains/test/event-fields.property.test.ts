import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { TopLevelFields } from '../src/event-fields.js';
import { compileFormat } from '../src/index.js';

const RUNS = 3000;

/** What a template renders with the whole event parsed: the behaviour the fast path must keep. */
function fullParseFormat(template: string): (key: string, json: string) => string {
  const parts = template.split(/\{\{(.*?)\}\}/);
  return (key, json) => {
    let event: unknown;
    try {
      event = JSON.parse(json);
    } catch {
      event = undefined;
    }
    if (typeof event !== 'object' || event === null || Array.isArray(event)) event = undefined;
    let line = '';
    for (let i = 0; i < parts.length; i++) {
      if (i % 2 === 0) {
        line += parts[i];
        continue;
      }
      const name = parts[i].trim();
      if (name === 'key') {
        line += key;
        continue;
      }
      let value: unknown = event;
      for (const segment of name.split('.')) {
        value = typeof value === 'object' && value !== null && Object.hasOwn(value, segment) ? (value as Record<string, unknown>)[segment] : undefined;
      }
      line += typeof value === 'string' ? value : value === undefined ? '' : JSON.stringify(value);
    }
    return line.endsWith('\n') ? line : line + '\n';
  };
}

/** Names that the generated events use, so templates often hit them; odd ones included. */
const NAMES = ['text', 'name', 'node_id', 'info', 'a', '__proto__', 'constructor', 'te"xt', 'x\\y', 'é', ''];
const name = fc.oneof(fc.constantFrom(...NAMES), fc.string({ maxLength: 3 }));
const template = fc
  .array(
    fc.tuple(
      fc.string({ maxLength: 3 }).filter((s) => !s.includes('{') && !s.includes('}')),
      fc.oneof(
        fc.constant('key'),
        name.filter((n) => n.trim() !== '' && !n.includes('}') && !n.includes('{') && !n.includes('.') && n.trim() === n),
        fc.constantFrom('info.pid', 'info.tags.0', 'text.length', 'a.b.c'),
      ),
    ),
    { minLength: 1, maxLength: 4 },
  )
  .map((parts) => parts.map(([literal, field]) => `${literal}{{${field}}}`).join(''));

const scalar = fc.oneof(fc.string(), fc.string({ unit: 'binary' }), fc.double(), fc.integer(), fc.boolean(), fc.constant(null));
const eventObject = fc.dictionary(name, fc.oneof(scalar, fc.jsonValue({ maxDepth: 3 })), { maxKeys: 8 });

/** JSON texts of events: compact or indented, sometimes with a duplicate key appended. */
const eventJson = fc.oneof(
  eventObject.map((o) => JSON.stringify(o)),
  fc.tuple(eventObject, fc.constantFrom(0, 1, '\t', ' \n')).map(([o, indent]) => JSON.stringify(o, null, indent as number | string)),
  fc.tuple(eventObject, name, scalar).map(([o, n, v]) => {
    const json = JSON.stringify(o);
    const extra = `${JSON.stringify(n)}:${JSON.stringify(v)}`;
    return json === '{}' ? `{${extra}}` : `${json.slice(0, -1)},${extra}}`;
  }),
  // Keys written with escapes that JSON.parse decodes to a plain name.
  fc.tuple(fc.constantFrom('te\\u0078t', 'n\\u0061me', '\\u0074ext'), scalar).map(([k, v]) => `{"text":"first","${k}":${JSON.stringify(v) ?? 'null'}}`),
);

/** Small edits that often break the JSON: the fast path must then agree that fields are empty. */
const TOKENS = ['"', '\\', '{', '}', '[', ']', ',', ':', ' ', '\n', '\0', '\u001f', '\\u00', '\\x', 'tru', 'nul', '-', '01', '1e', '.5', '"text":', 'é', '\uD800'];
const mutated = fc
  .tuple(eventJson, fc.array(fc.tuple(fc.nat(), fc.nat(4), fc.oneof(fc.constantFrom(...TOKENS), fc.string({ maxLength: 2 }))), { minLength: 1, maxLength: 3 }))
  .map(([json, edits]) => {
    let s = json;
    for (const [at, remove, insert] of edits) {
      const i = at % (s.length + 1);
      s = s.slice(0, i) + insert + s.slice(i + remove);
    }
    return s;
  });

const anyJsonText = fc.oneof(eventJson, mutated, fc.json(), fc.string(), fc.string({ unit: 'binary' }));

describe('templates: the top-level fast path renders exactly what the full parse renders', () => {
  it('for random events, broken events and random text', () => {
    fc.assert(
      fc.property(template, fc.string({ maxLength: 5 }), anyJsonText, (t, key, json) => {
        expect(compileFormat(t, {})(key, json)).toBe(fullParseFormat(t)(key, json));
      }),
      { numRuns: RUNS },
    );
  });

  it('the scan either declines or finds each field as JSON.parse does', () => {
    let scanned = 0;
    fc.assert(
      fc.property(fc.uniqueArray(name, { minLength: 1, maxLength: 4 }), anyJsonText, (names, json) => {
        const reader = new TopLevelFields(names);
        if (!reader.scan(json)) return;
        scanned++;
        const event = JSON.parse(json) as Record<string, unknown>;
        expect(typeof event === 'object' && event !== null && !Array.isArray(event)).toBe(true);
        names.forEach((n, i) => expect(reader.value(i)).toStrictEqual(Object.hasOwn(event, n) ? event[n] : undefined));
      }),
      { numRuns: RUNS },
    );
    // Declining everything would pass the comparison trivially.
    expect(scanned).toBeGreaterThan(RUNS / 10);
  });

  it('does not decline the events publishers and receivers write', () => {
    const reader = new TopLevelFields(['text', 'name']);
    const syslogEvent = '{"text":"a \\"quoted\\" line","node_id":"n1","unix_time":1700000000.123,"human_time":"2023-11-14T22:13:20.123+00:00","syslog":{"facility":"daemon","severity":"info","hostname":null,"appname":"web","procid":"12","msgid":null,"timestamp":"Nov 20 10:00:00"}}';
    expect(reader.scan(syslogEvent)).toBe(true);
    expect(reader.value(0)).toBe('a "quoted" line');
    expect(reader.scan(JSON.stringify({ text: 't', name: 'nginx', node_id: 'n', info: { tags: ['a'] } }))).toBe(true);
    expect(reader.value(1)).toBe('nginx');
  });
});
