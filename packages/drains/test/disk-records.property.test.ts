import { decodeWire, encodeBatch, wireLine, type WireRun } from '@logyard/bus';
import fc from 'fast-check';
import { crc32 as zlibCrc32 } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { crc32 } from '../src/disk/crc32.js';
import { CHUNK_BYTES, PendingRecords } from '../src/disk/pending.js';
import { encodeRecords, parseRecord, type QueuedEvent } from '../src/disk/record.js';

const key = fc.stringMatching(/^[a-z][a-z0-9]{0,10}(\.[a-z0-9]{1,10}){0,3}$/);
/** Event text of any characters (surrogate pairs, lone surrogates' replacement, NUL ...). */
const event: fc.Arbitrary<QueuedEvent> = fc.record({ key, json: fc.string({ unit: 'binary', maxLength: 300 }).map((text) => JSON.stringify({ text })) });

/** The events `records` holds, read back as a segment reader does. */
function readBack(records: Buffer): QueuedEvent[] {
  const out: QueuedEvent[] = [];
  for (let at = 0; at < records.length; ) {
    const parsed = parseRecord(records, at);
    if (parsed.kind !== 'record') throw new Error(`${parsed.kind} record at ${at}`);
    out.push(parsed.event);
    at += parsed.bytes;
  }
  return out;
}

describe('disk queue records', () => {
  it('crc32 is zlib’s CRC-32 of any bytes, from any offset', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 600 }), fc.nat(), fc.nat(), (bytes, a, b) => {
        const start = bytes.length === 0 ? 0 : a % (bytes.length + 1);
        const end = start + (b % (bytes.length - start + 1));
        expect(crc32(bytes, start, end)).toBe(zlibCrc32(bytes.subarray(start, end)));
      }),
      { numRuns: 500 },
    );
  });

  it('encoded records read back as the same events, in order, whatever their characters', () => {
    fc.assert(
      fc.property(fc.array(event, { maxLength: 50 }), (events) => {
        expect(readBack(encodeRecords(events))).toEqual(events);
      }),
      { numRuns: 300 },
    );
  });

  it('events on their way to disk: chunked as they come, text or UTF-8 bytes, read back in order', () => {
    fc.assert(
      fc.property(fc.array(event, { minLength: 1, maxLength: 40 }), fc.array(fc.boolean(), { minLength: 40, maxLength: 40 }), (events, asBytes) => {
        const pending = new PendingRecords();
        events.forEach((e, i) => pending.add(e.key, asBytes[i] ? Buffer.from(e.json) : e.json));
        expect(pending.records).toBe(events.length);
        expect(pending.takeAll()).toEqual({ keys: events.map((e) => e.key), jsons: events.map((e) => e.json) });
        expect(pending.records).toBe(0);
      }),
      { numRuns: 200 },
    );
  });
});

/** The runs real batches of these events decode into (bus decodeWire), each kept (its lines' `ends` and `keys` copied). */
function runsOf(events: QueuedEvent[], perBatch: number): WireRun[] {
  const runs: WireRun[] = [];
  for (let i = 0; i < events.length; i += perBatch) {
    const frame = Buffer.from(encodeBatch(events.slice(i, i + perBatch).map((e) => wireLine(e.key, e.json))));
    decodeWire(frame, { run: (run) => runs.push({ ...run, first: 0, ends: run.ends.slice(run.first, run.first + run.count), keys: run.keys.slice(run.first, run.first + run.count) }), malformed: (reason) => { throw new Error(reason); } });
  }
  return runs;
}

describe('pending records', () => {
  it('runs of wire lines (whole, or split as a rate limit splits them) read back as the events, across chunks', () => {
    const keys = ['app.web', 'app.web', 'app.db', 'systail.x'];
    const events = Array.from({ length: 5_000 }, (_, i) => ({ key: keys[Math.floor(i / 7) % 4], json: JSON.stringify({ text: `event ${i} ${'é'.repeat(i % 50)}`, pad: 'x'.repeat(150) }) }));
    const pending = new PendingRecords();
    for (const [n, run] of runsOf(events, 333).entries()) {
      if (n % 3 === 0 && run.count > 1) {
        pending.addRun(run, 0, 1);
        pending.addRun(run, 1, run.count - 1);
      } else {
        pending.addRun(run, 0, run.count);
      }
    }
    expect(pending.chunkCount).toBeGreaterThan(3);
    expect(pending.takeAll()).toEqual({ keys: events.map((e) => e.key), jsons: events.map((e) => e.json) });
  });

  it('a line larger than a chunk gets a chunk of its own size', () => {
    const events = [{ key: 'a.b', json: '{"x":1}' }, { key: 'a.b', json: JSON.stringify({ text: 'y'.repeat(CHUNK_BYTES + 10) }) }, { key: 'a.b', json: '{"x":2}' }];
    const pending = new PendingRecords();
    for (const run of runsOf(events, 3)) pending.addRun(run, 0, run.count);
    expect(pending.chunkCount).toBe(3);
    expect(pending.takeAll()).toEqual({ keys: events.map((e) => e.key), jsons: events.map((e) => e.json) });
  });


  const json = (i: number): string => JSON.stringify({ text: `event ${i}`, pad: 'x'.repeat(180) });

  it('fills chunks of CHUNK_BYTES, hands over the sealed ones, and takes an event larger than a chunk whole', () => {
    const pending = new PendingRecords();
    let count = 0;
    while (pending.chunkCount < 3) pending.add('app.web', json(count++));
    expect(pending.sealedChunks()).toHaveLength(2);
    for (const chunk of pending.sealedChunks()) expect(chunk.bytes).toBeLessThanOrEqual(CHUNK_BYTES);
    const big = JSON.stringify({ text: 'é'.repeat(CHUNK_BYTES) });
    pending.add('app.web', big);
    pending.seal();
    const chunks = pending.sealedChunks();
    expect(chunks).toHaveLength(4);
    expect(readBack(chunks[3].data.subarray(0, chunks[3].bytes))).toEqual([{ key: 'app.web', json: big }]);
    const all = chunks.flatMap((chunk) => readBack(chunk.data.subarray(0, chunk.bytes)));
    expect(all.map((e) => e.json)).toEqual([...Array.from({ length: count }, (_, i) => json(i)), big]);
  });

  it('a chunk dropped while the disk lags is counted in the gap before the next one, and never one being written', () => {
    const pending = new PendingRecords();
    let count = 0;
    while (pending.chunkCount < 4) pending.add('app.web', json(count++));
    const [first, second, third] = pending.sealedChunks();
    // The first is being written: the second goes, then the third (the one being filled stays).
    expect(pending.dropOldest(1)).toBe(second.records);
    expect(pending.dropOldest(1)).toBe(third.records);
    expect(pending.dropOldest(1)).toBe(0);
    expect(pending.sealedChunks()).toEqual([first]);
    expect(pending.newest()?.gapBefore).toMatchObject({ reason: 'buffer_full', count: second.records + third.records });
    expect(pending.records).toBe(count - second.records - third.records);
  });
});
