import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { decodeWire, encodeBatch, nowUnix, type WireRun } from '@logyard/bus';
import { describe, expect, it } from 'vitest';
import { EventBuffer } from '../src/index.js';

function fill(buffer: EventBuffer, from: number, to: number): void {
  for (let i = from; i <= to; i++) buffer.push(`k${i}`, `{"n":${i}}`);
}

const everything = Number.MAX_SAFE_INTEGER;

/** The runs of a batch of `n` events from `from` on, marked known valid or not (as the core's router marks them). */
function runsOf(from: number, n: number, knownValid: boolean): WireRun[] {
  const runs: WireRun[] = [];
  const lines = Array.from({ length: n }, (_, i) => `k.${(from + i) % 3} {"n":${from + i}}`);
  decodeWire(Buffer.from(encodeBatch(lines)), { run: (run) => runs.push({ ...run, ends: run.ends.slice(), knownValid }), malformed: () => expect.fail('malformed') });
  return runs;
}

describe('EventBuffer', () => {
  it('keeps per event whether it is known valid: through growing, taking as bytes and putting back; events given as strings never are', () => {
    const buffer = new EventBuffer(1000);
    for (const run of runsOf(0, 100, true)) buffer.pushRun(run);
    buffer.push('k.s', '{"n":100}');
    for (const run of runsOf(101, 99, false)) buffer.pushRun(run);
    for (const run of runsOf(200, 50, true)) buffer.pushRun(run);
    const expected = [...Array(100).fill(1), 0, ...Array(99).fill(0), ...Array(50).fill(1)];
    const first = buffer.takeBytes(120, false);
    expect([...first.knownValid]).toEqual(expected.slice(0, 120));
    buffer.unshiftBytes(first, 20);
    const rest = buffer.takeBytes(1000, false);
    expect([...rest.knownValid]).toEqual(expected.slice(20));
    expect(rest.wire.toString().split('\n')[0]).toBe('k.2 {"n":20}');
    buffer.unshift({ keys: ['k.u'], jsons: ['{"n":-1}'] });
    expect([...buffer.takeBytes(10, false).knownValid]).toEqual([0]);
  });

  it('is first in, first out, with no gap while nothing was dropped', () => {
    const buffer = new EventBuffer(10);
    fill(buffer, 1, 3);
    expect(buffer.length).toBe(3);
    const batch = buffer.take(everything, everything);
    expect(batch).toEqual({ keys: ['k1', 'k2', 'k3'], jsons: ['{"n":1}', '{"n":2}', '{"n":3}'] });
    expect(buffer.length).toBe(0);
  });

  it('when full drops the oldest and reports the gap once, with the time of the first drop', () => {
    const buffer = new EventBuffer(5);
    const before = nowUnix();
    fill(buffer, 1, 12);
    const after = nowUnix();
    expect(buffer.length).toBe(5);
    expect(buffer.dropped).toBe(7);
    const batch = buffer.take(everything, everything);
    expect(batch.keys).toEqual(['k8', 'k9', 'k10', 'k11', 'k12']);
    expect(batch.gaps?.[0].count).toBe(7);
    expect(batch.gaps?.[0].since).toBeGreaterThanOrEqual(before);
    expect(batch.gaps?.[0].since).toBeLessThanOrEqual(after);

    fill(buffer, 13, 14);
    expect(buffer.take(everything, everything)).toEqual({ keys: ['k13', 'k14'], jsons: ['{"n":13}', '{"n":14}'] });
    expect(buffer.dropped).toBe(7);
  });

  it('takes at most maxEvents and maxBytes, but always at least one event', () => {
    const buffer = new EventBuffer(100);
    fill(buffer, 1, 10); // each JSON is 8 or 9 characters
    expect(buffer.take(3, everything).keys).toEqual(['k1', 'k2', 'k3']);
    expect(buffer.take(everything, 16).keys).toEqual(['k4', 'k5']);
    expect(buffer.take(everything, 1).keys).toEqual(['k6']);
    expect(buffer.length).toBe(4);
  });

  it('unshift puts an unsent batch back in front, with its gap', () => {
    const buffer = new EventBuffer(5);
    fill(buffer, 1, 7);
    const batch = buffer.take(2, everything);
    expect(batch.keys).toEqual(['k3', 'k4']);
    buffer.unshift(batch);
    expect(buffer.length).toBe(5);
    const again = buffer.take(everything, everything);
    expect(again.keys).toEqual(['k3', 'k4', 'k5', 'k6', 'k7']);
    expect(again.gaps?.[0].count).toBe(2);
    expect(buffer.dropped).toBe(2);
  });

  it('unshift drops the oldest of the returned batch that no longer fit, and counts them', () => {
    const buffer = new EventBuffer(4);
    fill(buffer, 1, 3);
    const batch = buffer.take(everything, everything);
    fill(buffer, 4, 6);
    buffer.unshift(batch);
    expect(buffer.dropped).toBe(2);
    const again = buffer.take(everything, everything);
    expect(again.keys).toEqual(['k3', 'k4', 'k5', 'k6']);
    expect(again.gaps?.[0].count).toBe(2);
  });

  it('keeps order across growth and wrap-around of a large ring', () => {
    const buffer = new EventBuffer(5000);
    fill(buffer, 1, 3000);
    expect(buffer.take(1000, everything).keys[999]).toBe('k1000');
    fill(buffer, 3001, 7000); // 6000 offered to 5000 slots: the 1000 oldest go
    expect(buffer.length).toBe(5000);
    const batch = buffer.take(everything, everything);
    expect(batch.gaps?.[0].count).toBe(1000);
    expect(batch.keys[0]).toBe('k2001');
    expect(batch.keys[4999]).toBe('k7000');
    expect(batch.keys.every((key, i) => key === `k${2001 + i}`)).toBe(true);
  });

  it('tells gaps of other reasons with the next batch, counted per reason, and puts them back on unshift', () => {
    const buffer = new EventBuffer(3);
    buffer.recordGap({ reason: 'core_stopped', count: 40, since: 100 });
    buffer.recordGap({ reason: 'core_stopped', count: 2, since: 90 });
    fill(buffer, 1, 4);
    expect(buffer.droppedByReason()).toEqual({ core_stopped: 42, buffer_full: 1 });
    const batch = buffer.take(everything, everything);
    expect(batch.gaps?.map((g) => [g.reason, g.count])).toEqual([['core_stopped', 42], ['buffer_full', 1]]);
    expect(batch.gaps?.[0].since).toBe(90);
    buffer.unshift(batch); // a failed send: told again next time, not counted twice
    expect(buffer.droppedByReason()).toEqual({ core_stopped: 42, buffer_full: 1 });
    expect(buffer.untoldGaps().map((g) => g.count)).toEqual([42, 1]);
  });

  it('takeAll empties events and untold gaps, oldest first', () => {
    const buffer = new EventBuffer(10);
    fill(buffer, 1, 3);
    buffer.recordGap({ reason: 'uri_changed', count: 5, since: 7 });
    expect(buffer.takeAll()).toEqual({ keys: ['k1', 'k2', 'k3'], jsons: ['{"n":1}', '{"n":2}', '{"n":3}'], gaps: [{ reason: 'uri_changed', count: 5, since: 7 }] });
    expect(buffer.length).toBe(0);
    expect(buffer.takeAll()).toEqual({ keys: [], jsons: [], gaps: [] });
  });

  it('rejects a capacity that is not a positive integer', () => {
    expect(() => new EventBuffer(0)).toThrow(RangeError);
  });
});

describe('EventBuffer memory', () => {
  it('keeps only its events, not the batch strings they were sliced from', () => {
    // The core's events are slices of the batch it decoded; V8 slices are views into their parent.
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const heapUsed = (): number => {
      gc();
      gc();
      return process.memoryUsage().heapUsed;
    };
    const buffer = new EventBuffer(10_000);
    const before = heapUsed();
    for (let i = 0; i < 10_000; i++) {
      // A 20 KB batch per event: 200 MB held if the buffer kept the batches alive.
      const batch = `LY1\nnarrow.app.n1 {"text":"event ${i}"}\n` + 'w'.repeat(20_000) + i;
      const keyEnd = batch.indexOf(' ');
      buffer.push(batch.slice(4, keyEnd), batch.slice(keyEnd + 1, batch.indexOf('\n', keyEnd)));
    }
    const held = heapUsed() - before;
    expect(held).toBeLessThan(20 * 2 ** 20);
    expect(buffer.take(1, 1000)).toMatchObject({ keys: ['narrow.app.n1'], jsons: ['{"text":"event 0"}'] });
  });

  it('costs a drain holding a few events a few KiB, however many events went through it before', () => {
    const arrayBuffers = (): number => process.memoryUsage().arrayBuffers;
    const before = arrayBuffers();
    const buffers = Array.from({ length: 1000 }, () => new EventBuffer(10_000));
    for (const buffer of buffers) for (let i = 0; i < 20; i++) buffer.push('narrow.app', `{"text":"${'x'.repeat(180)} ${i}"}`);
    // 1,000 buffers of 20 events of ~200 bytes (4 MB in events): a block of the pool each would be 512 MB.
    expect(arrayBuffers() - before).toBeLessThan(16 * 2 ** 20);
    expect(buffers[999].take(1, 1000).jsons[0]).toBe(`{"text":"${'x'.repeat(180)} 0"}`);
  });
});

