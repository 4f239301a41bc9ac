import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { humanTime, jsonString, jsonStringContent, stampedMembersNow, textEventJson } from '../src/index.js';

describe('event JSON built from pieces', () => {
  it('jsonString and jsonStringContent are JSON.stringify of any string', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.string({ unit: 'binary' }), fc.string({ unit: fc.constantFrom('"', '\\', '\n', '\u001f', '\ud800', '\udc00', 'é', 'a') })), (s) => {
        expect(jsonString(s)).toBe(JSON.stringify(s));
        expect('"' + jsonStringContent(s) + '"').toBe(JSON.stringify(s));
      }),
      { numRuns: 3000 },
    );
  });

  it('textEventJson is the event with text first and the stamped members of now', () => {
    const json = textEventJson('a "line"', 'n1');
    const members = stampedMembersNow('n1');
    const event = JSON.parse(json) as Record<string, unknown>;
    expect(Object.keys(event)).toEqual(['text', 'node_id', 'unix_time', 'human_time']);
    expect(event.text).toBe('a "line"');
    expect(event.node_id).toBe('n1');
    // Both come from the stamp of one millisecond unless the clock moved on in between.
    if (json.endsWith(members + '}')) expect(JSON.parse(`{"text":""${members}}`)).toEqual({ ...event, text: '' });
    expect(textEventJson('x', 'n1', 1700000000.5)).toBe(`{"text":"x","node_id":"n1","unix_time":1700000000.5,"human_time":"${humanTime(1700000000.5)}"}`);
  });
});
