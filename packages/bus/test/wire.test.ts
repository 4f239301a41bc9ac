import { describe, expect, it } from 'vitest';
import { ackFrame, batchHeader, decodeBatch, encodeBatch, endHeader, eventJson, humanTime, parseAck, parseIngestHeader, PublisherLedger, textEventJson, wireLine, type MalformedReason } from '../src/index.js';

function decode(frame: Buffer) {
  const events: Array<[string, string]> = [];
  const malformed: Partial<Record<MalformedReason, number>> = {};
  decodeBatch(frame, {
    event: (k, j) => events.push([k, j]),
    malformed: (r, n) => (malformed[r] = (malformed[r] ?? 0) + n),
  });
  return { events, malformed };
}

describe('wire format', () => {
  it('round-trips a batch of events, text with newlines included', () => {
    const a = textEventJson('line one\nstill one', 'n1');
    const b = textEventJson('two', 'n1');
    const { events, malformed } = decode(Buffer.from(encodeBatch([wireLine('systail.a', a), wireLine('systail.b', b)])));
    expect(events).toEqual([
      ['systail.a', a],
      ['systail.b', b],
    ]);
    expect(JSON.parse(events[0][1]).text).toBe('line one\nstill one');
    expect(malformed).toEqual({});
  });

  it('counts garbage instead of passing it on', () => {
    expect(decode(Buffer.from([0xff, 0x00, 0x13, 0x37])).malformed).toEqual({ bad_batch: 1 });
    const mixed = 'LY1\nbad..key {"text":"x"}\nnospace\nok.key {"text":"y"}\nok.key not-json\n';
    const { events, malformed } = decode(Buffer.from(mixed));
    expect(events).toEqual([['ok.key', '{"text":"y"}']]);
    expect(malformed).toEqual({ bad_key: 1, bad_event: 2 });
  });
});

describe('sequenced delivery', () => {
  it('reads back its headers and confirmations and nothing else', () => {
    expect(parseIngestHeader(Buffer.from(batchHeader('1a-ff00', 4096, 17, true)))).toEqual({ kind: 'batch', publisher: '1a-ff00', seq: 4096, count: 17, confirm: true });
    expect(parseIngestHeader(Buffer.from(batchHeader('p', 0, 1, false)))).toMatchObject({ confirm: false });
    expect(parseIngestHeader(Buffer.from(endHeader('p', 12)))).toEqual({ kind: 'end', publisher: 'p', seq: 12 });
    for (const bad of ['LY1\n', 'LY2 B p 1', 'LY2 B p -1 2 1', 'LY2 X p 1', 'LY2 E p', 'LY2 E p 1 2']) expect(parseIngestHeader(Buffer.from(bad))).toBeNull();
    expect(parseAck(Buffer.from(ackFrame({ kind: 'batch', next: 7 })))).toEqual({ kind: 'batch', next: 7 });
    expect(parseAck(Buffer.from(ackFrame({ kind: 'end', next: 0 })))).toEqual({ kind: 'end', next: 0 });
    for (const bad of ['A', 'A x', 'Z 1', 'A -1']) expect(parseAck(Buffer.from(bad))).toBeNull();
  });

  it('the ledger skips what it has, counts what never came, and forgets the least recent publisher first', () => {
    const ledger = new PublisherLedger(2);
    expect(ledger.batch('a', 0, 10)).toEqual({ take: true, lost: 0, next: 10 });
    expect(ledger.batch('a', 0, 10)).toEqual({ take: false, lost: 0, next: 10 });
    expect(ledger.batch('a', 15, 5)).toEqual({ take: true, lost: 5, next: 20 });
    // A publisher first heard of mid-stream (a restarted core) is taken as it comes.
    expect(ledger.batch('b', 100, 1)).toEqual({ take: true, lost: 0, next: 101 });
    expect(ledger.batch('a', 20, 1)).toEqual({ take: true, lost: 0, next: 21 });
    ledger.batch('c', 0, 1); // over the bound: b, the least recent, is forgotten
    expect(ledger.size).toBe(2);
    expect(ledger.end('b', 101)).toEqual({ lost: 0, next: 101 });
    expect(ledger.end('a', 23)).toEqual({ lost: 2, next: 23 });
    expect(ledger.size).toBe(1);
  });
});

describe('events', () => {
  it('stamps node_id, unix_time and human_time when the caller did not', () => {
    const ev = JSON.parse(eventJson({ text: 'hi', extra: 1 }, 'node-a')!);
    expect(ev).toMatchObject({ text: 'hi', extra: 1, node_id: 'node-a' });
    expect(typeof ev.unix_time).toBe('number');
    expect(ev.human_time).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-]\d\d:\d\d$/);
  });

  it('keeps fields the caller gave and refuses events without text', () => {
    const ev = JSON.parse(eventJson({ text: 'hi', node_id: 'mine', unix_time: 10 }, 'node-a')!);
    expect(ev.node_id).toBe('mine');
    expect(ev.unix_time).toBe(10);
    expect(ev.human_time).toBe(humanTime(10));
    expect(eventJson({ message: 'no text' }, 'n')).toBeNull();
  });

  it('formats RFC 3339 times with the local offset', () => {
    const t = 1_700_000_000.5;
    const ht = humanTime(t);
    expect(new Date(ht).getTime()).toBe(t * 1000);
  });
});
