import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
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

  it('appendPlainAscii writes what appendPieces writes for plain ASCII text, and refuses any other text, appending nothing', () => {
    // Bytes of every kind, those it must refuse rare, so that most texts are plain.
    const byte = fc.oneof({ weight: 20, arbitrary: fc.integer({ min: 0x20, max: 0x7e }) }, fc.constantFrom(0x00, 0x09, 0x1f, 0x22, 0x5c, 0x7f, 0x80, 0xc3, 0xff));
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.array(byte, { maxLength: 40 }), fc.nat(5)), { minLength: 1, maxLength: 8 }), fc.boolean(), (texts, vouched) => {
        const prefix = new EventPrefix('syslog.web', '{"text":"', vouched);
        const tail = Buffer.from('","n":1}');
        const fast = new BatchBuilder(4, 256);
        const general = new BatchBuilder(4, 256);
        for (const [bytes, offset] of texts) {
          const src = Buffer.concat([Buffer.alloc(offset, 0x22), Buffer.from(bytes), Buffer.from('\\n')]);
          const plain = bytes.every((c) => c >= 0x20 && c < 0x80 && c !== 0x22 && c !== 0x5c);
          expect(fast.appendPlainAscii(prefix, src, offset, offset + bytes.length, tail)).toBe(plain);
          if (plain) general.appendPieces(prefix, src, offset, offset + bytes.length, tail);
        }
        expect(fast).toMatchObject({ events: general.events, bytes: general.bytes });
        // A refused text may have sealed a batch early: the events and their mark are what must agree.
        const taken = (b: BatchBuilder): string[] => {
          const out: string[] = [];
          for (let batch = b.take(); batch; batch = b.take()) {
            expect(batch.knownValid).toBe(vouched);
            out.push(...events(batch));
          }
          return out;
        };
        expect(taken(fast)).toEqual(taken(general));
      }),
      { numRuns: 2000 },
    );
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
