import { describe, expect, it } from 'vitest';
import { BatchBuilder, decodeBatch, EventPrefix, type WireBatch } from '../src/index.js';

/** The events of a wire batch, as the core decodes them. */
function events(batch: WireBatch): string[] {
  const out: string[] = [];
  const n = decodeBatch(batch.body, { event: (key, json) => out.push(`${key} ${json}`), malformed: () => expect.fail('malformed batch') });
  expect(n).toBe(batch.count);
  return out;
}

describe('BatchBuilder', () => {
  it('marks a batch known valid only when every event came from pieces of a prefix vouched for', () => {
    const b = new BatchBuilder(2, 64 * 1024);
    const vouched = new EventPrefix('syslog.web', '{"text":"', true);
    const plain = new EventPrefix('app.json', '{"text":"');
    const text = Buffer.from('a "quoted" line');
    const tail = Buffer.from('"}');
    b.appendPieces(vouched, text, 0, text.length, tail, true);
    b.appendPieces(vouched, text, 0, 1, tail);
    b.appendPieces(vouched, text, 0, 1, tail);
    b.appendPieces(plain, text, 0, 1, tail);
    b.appendPieces(vouched, text, 0, 1, tail);
    b.append('app.x', '{"text":"given"}');
    b.appendPieces(vouched, text, 0, 1, tail);
    const batches: WireBatch[] = [];
    for (let batch = b.take(); batch; batch = b.take()) batches.push(batch);
    expect(batches.map((x) => [x.count, x.knownValid])).toEqual([[2, true], [2, false], [2, false], [1, true]]);
    expect(events(batches[0])[0]).toBe('syslog.web {"text":"a \\"quoted\\" line"}');
  });

  it('seals a batch at its event or byte limit; an event longer than a batch gets one alone', () => {
    const b = new BatchBuilder(3, 100);
    for (let i = 0; i < 7; i++) b.append('app.x', `{"text":"e${i}"}`);
    b.append('app.big', `{"text":"${'y'.repeat(300)}"}`);
    b.append('app.x', '{"text":"after"}');
    const batches: WireBatch[] = [];
    for (let batch = b.take(); batch; batch = b.take()) batches.push(batch);
    expect(batches.map((x) => x.count)).toEqual([3, 3, 1, 1, 1]);
    expect(batches.flatMap(events)).toEqual([...Array.from({ length: 7 }, (_, i) => `app.x {"text":"e${i}"}`), `app.big {"text":"${'y'.repeat(300)}"}`, 'app.x {"text":"after"}']);
    expect(b).toMatchObject({ events: 0, bytes: 0 });
  });

  it('compact: a batch taken while its buffer is mostly empty is a copy of its size, and the buffer goes on', () => {
    const b = new BatchBuilder(8192, 64 * 1024, true);
    const prefix = new EventPrefix('syslog.web', '{"text":"');
    const line = Buffer.from('..hello..');
    const tail = Buffer.from('"}');
    b.appendPieces(prefix, line, 2, 7, tail);
    const first = b.take()!;
    expect(first.body.buffer.byteLength).toBeLessThan(64 * 1024); // not a view of the batch buffer
    b.append('app.x', '{"text":"é"}');
    const second = b.take()!;
    expect(events(first)).toEqual(['syslog.web {"text":"hello"}']);
    expect(events(second)).toEqual(['app.x {"text":"é"}']);
  });
});
