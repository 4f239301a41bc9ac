import { decodeWire, encodeBatch, NOTICE_KEY, wireLine, type WireRun } from '@logyard/bus';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { EventBuffer } from '../src/index.js';

// The notice key, keys as long as it (one differs in its last byte only) and others.
const key = fc.constantFrom(NOTICE_KEY, 'logyard.noticf', 'systail.kern.x', 'a.b', 'k', 'app.x.y.z');
const json = fc.string({ maxLength: 30, unit: 'grapheme' }).map((text) => JSON.stringify({ text }));
/** What goes in: one event as strings (push), or a batch's events as runs (pushRun, as the core's router hands them). */
const input = fc.oneof(
  fc.tuple(key, json).map(([k, j]) => ({ strings: [[k, j]] as Array<[string, string]> })),
  fc.array(fc.tuple(key, json), { minLength: 1, maxLength: 20 }).map((events) => ({ batch: events })),
);

function feed(buffer: EventBuffer, inputs: ReadonlyArray<{ strings?: Array<[string, string]>; batch?: Array<[string, string]> }>): void {
  for (const { strings, batch } of inputs) {
    for (const [k, j] of strings ?? []) buffer.push(k, j);
    if (batch) {
      const frame = Buffer.from(encodeBatch(batch.map(([k, j]) => wireLine(k, j))));
      decodeWire(frame, { run: (run: WireRun) => buffer.pushRun(run), malformed: () => expect.fail('malformed') });
    }
  }
}

describe('EventBuffer.takeBytes', () => {
  it('takes the bytes of what take() gives as strings: the wire lines, the JSON lines for json, the notices counted', () => {
    fc.assert(
      fc.property(fc.array(input, { maxLength: 30 }), fc.integer({ min: 1, max: 40 }), fc.integer({ min: 1, max: 300 }), fc.boolean(), (inputs, maxEvents, capacity, json) => {
        const bytes = new EventBuffer(capacity);
        const strings = new EventBuffer(capacity);
        feed(bytes, inputs);
        feed(strings, inputs);
        while (bytes.length > 0) {
          const batch = bytes.takeBytes(maxEvents, json);
          const want = strings.take(batch.count, Number.MAX_SAFE_INTEGER);
          expect(batch.count).toBe(want.keys.length);
          expect(batch.wire.toString()).toBe(want.keys.map((k, i) => `${k} ${want.jsons[i]}\n`).join(''));
          expect(batch.out.toString()).toBe(json ? want.jsons.map((j) => `${j}\n`).join('') : batch.wire.toString());
          expect(batch.notices).toBe(want.keys.filter((k) => k === NOTICE_KEY).length);
          // The drops (oldest first, when full), told with the first batch after them (`since` aside: two buffers, two clocks).
          const told = (gaps: typeof want.gaps) => gaps?.map(({ reason, count }) => ({ reason, count }));
          expect(told(batch.gaps)).toEqual(told(want.gaps));
          EventBuffer.sent(batch);
        }
        expect(strings.length).toBe(0);
      }),
      { numRuns: 300 },
    );
  });
});
