import { describe, expect, it } from 'vitest';
import { ackFrame, batchHeader, decodeBatch, encodeBatch, endHeader, eventJson, fitsMaxEvent, humanTime, jsonStringContent, parseAck, parseIngestHeader, PublisherLedger, splitJsonText, textEventJson, wireLine, type MalformedReason } from '../src/index.js';

function decode(frame: Buffer, maxEvent?: number) {
  const events: Array<[string, string]> = [];
  const malformed: Partial<Record<MalformedReason, number>> = {};
  decodeBatch(frame, {
    event: (k, j) => events.push([k, j]),
    malformed: (r, n) => (malformed[r] = (malformed[r] ?? 0) + n),
  }, maxEvent);
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

  it('refuses an event longer than max_event without decoding it, and takes the others', () => {
    const long = textEventJson('L'.repeat(400), 'n');
    const fits = textEventJson('f'.repeat(150), 'n');
    const frame = Buffer.from(encodeBatch([wireLine('a.b', fits), wireLine('a.b', long), wireLine('a.b', fits), wireLine('a.b', long)]));
    const { events, malformed } = decode(frame, 300);
    expect(events).toEqual([['a.b', fits], ['a.b', fits]]);
    expect(malformed).toEqual({ too_long: 2 });
    // A line longer than max_event only by its key is not too long.
    expect(decode(Buffer.from(encodeBatch([wireLine('k'.repeat(200), fits)])), 300).events).toHaveLength(1);
    // Without a space in reach the line cannot be `KEY JSON`: refused too, never decoded.
    expect(decode(Buffer.from('LY1\n' + 'x'.repeat(500) + '\n'), 300).malformed).toEqual({ too_long: 1 });
  });
});

describe('max_event', () => {
  const texts = ['plain '.repeat(400), 'é€😀'.repeat(300), '"\\\n\t\u0001'.repeat(200), 'x'.repeat(99) + '😀' + 'y'.repeat(50), '\ud800'.repeat(100)];
  it.each(texts.map((t, i) => [i, t]))('splitJsonText %i: pieces within the budget that join to the text, no pair cut', (_i, text) => {
    for (const budget of [12, 13, 100, 257]) {
      const pieces = splitJsonText(text, budget);
      expect(pieces.join('')).toBe(text);
      for (const p of pieces) {
        expect(Buffer.byteLength(jsonStringContent(p))).toBeLessThanOrEqual(budget);
        expect(p.length).toBeGreaterThan(0);
      }
      for (let i = 1; i < pieces.length; i++) {
        const cutPair = /[\ud800-\udbff]$/.test(pieces[i - 1]) && /^[\udc00-\udfff]/.test(pieces[i]);
        expect(cutPair).toBe(false);
      }
    }
  });

  it('fitsMaxEvent counts UTF-8 bytes', () => {
    expect(fitsMaxEvent('a'.repeat(10), 10)).toBe(true);
    expect(fitsMaxEvent('é'.repeat(5), 10)).toBe(true);
    expect(fitsMaxEvent('é'.repeat(6), 10)).toBe(false);
  });
});

describe('sequenced delivery', () => {
  it('reads back its headers and confirmations and nothing else', () => {
    expect(parseIngestHeader(Buffer.from(batchHeader('1a-ff00', 4096, 17, true)))).toEqual({ kind: 'batch', publisher: '1a-ff00', seq: 4096, count: 17, confirm: true, knownValid: false, checked: false });
    expect(parseIngestHeader(Buffer.from(batchHeader('p', 0, 1, false)))).toMatchObject({ confirm: false });
    // Known valid (" v"); a header without it, as older publishers write, is not.
    expect(parseIngestHeader(Buffer.from(batchHeader('p', 0, 1, false, 'exact')))).toMatchObject({ confirm: false, knownValid: true, checked: true });
    expect(batchHeader('p', 3, 2, true, 'exact')).toBe('LY2 B p 3 2 1 v');
    expect(batchHeader('p', 3, 2, true, 'checked')).toBe('LY2 B p 3 2 1 j');
    expect(parseIngestHeader(Buffer.from('LY2 B p 3 2 1 j'))).toMatchObject({ knownValid: false, checked: true });
    expect(parseIngestHeader(Buffer.from('LY2 B p 3 2 1'))).toMatchObject({ knownValid: false, checked: false });
    expect(parseIngestHeader(Buffer.from(endHeader('p', 12)))).toEqual({ kind: 'end', publisher: 'p', seq: 12 });
    for (const bad of ['LY1\n', 'LY2 B p 1', 'LY2 B p -1 2 1', 'LY2 B p 1 2 1 x', 'LY2 B p 1 2 1 v ', 'LY2 B p 1 2 1 v j', 'LY2 B p 1 2 1 jv', 'LY2 E p 1 v', 'LY2 X p 1', 'LY2 E p', 'LY2 E p 1 2']) expect(parseIngestHeader(Buffer.from(bad))).toBeNull();
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
