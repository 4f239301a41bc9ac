import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { TopLevelFields } from '../src/event-fields.js';
import { compileFormat } from '../src/index.js';
import { anyJsonText, name, template } from './event-generators.js';

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
