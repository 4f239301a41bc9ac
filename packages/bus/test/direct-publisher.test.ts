import { describe, expect, it, vi } from 'vitest';
import fc from 'fast-check';
import { decodeBatch, DirectPublisher, EventPrefix, textEventJson } from '../src/index.js';

const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** A DirectPublisher whose deliveries are recorded, as the core would route them. */
function direct(options: { maxQueuedEvents?: number; maxEvent?: number; busy?: (queued: number) => boolean } = {}) {
  const batches: Array<Array<{ key: string; event: any }>> = [];
  const publisher = new DirectPublisher({
    nodeId: 'direct-node',
    maxEvent: options.maxEvent ?? 1024 * 1024,
    ...(options.maxQueuedEvents === undefined ? {} : { maxQueuedEvents: options.maxQueuedEvents }),
    ...(options.busy === undefined ? {} : { busy: options.busy }),
    deliver: (wireBatches) => {
      // One delivery, as the core routes it: every wire batch decoded, in order.
      const events: Array<{ key: string; event: any }> = [];
      const sink = { event: (key: string, json: string) => events.push({ key, event: JSON.parse(json) }), malformed: () => expect.fail('malformed batch') };
      for (const b of wireBatches) expect(decodeBatch(b.body, sink)).toBe(b.count);
      batches.push(events);
    },
  });
  return { publisher, batches };
}

/** A DirectPublisher whose events are recorded as the JSON the core receives, in order. */
function rawDirect(maxEvent = 1024 * 1024) {
  const jsons: string[] = [];
  const publisher = new DirectPublisher({
    nodeId: 'direct-node',
    maxEvent,
    deliver: (wireBatches) => {
      for (const b of wireBatches) decodeBatch(b.body, { event: (_key, json) => jsons.push(json), malformed: () => expect.fail('malformed batch') });
    },
  });
  return { publisher, jsons };
}

describe('DirectPublisher (receive.in_core)', () => {
  it('publishes a text as the JSON textEventJson makes of it, whether it needs escaping or not, and checks a new key again', async () => {
    const { publisher, jsons } = rawDirect();
    const texts = ['plain ascii', 'a "quote"', 'back\\slash', 'new\nline', 'tab\there', 'é and ü', 'emoji \u{1F600}', 'lone \ud800 surrogate', 'U+FFFD \ufffd', ''];
    for (const text of texts) expect(publisher.publish('app.web', text)).toBe(true);
    expect(publisher.publish('app web', 'bad key after a good one')).toBe(false);
    expect(publisher.publish('app.other', 'another key')).toBe(true);
    await nextTurn();
    expect(jsons.map((json) => JSON.parse(json).text)).toEqual([...texts, 'another key']);
    // Byte for byte what the string path makes (stamped the same millisecond: compared without the stamp).
    const withoutStamp = (json: string): string => json.slice(0, json.indexOf(',"node_id"'));
    expect(jsons.slice(0, texts.length).map(withoutStamp)).toEqual(texts.map((text) => withoutStamp(textEventJson(text, 'direct-node'))));
    expect(JSON.parse(jsons[0])).toMatchObject({ node_id: 'direct-node', unix_time: expect.any(Number), human_time: expect.any(String) });
    expect(publisher.stats().dropped.invalid_key).toBe(1);
  });

  it('publishes any text, with or without more members, byte for byte as textEventJson and the members make it', async () => {
    // Any text: one-byte, two-byte and astral characters, lone surrogates, what JSON escapes, empty.
    const part = fc.oneof(fc.string(), fc.string({ unit: 'binary' }), fc.constantFrom('"', '\\', '\n', '\r', '\t', '\x00', '\x1f', '\x7f', 'é', '€', '\u{1F600}', '\ud800', '\udfff', '\u2028', 'x'.repeat(40)));
    const text = fc.array(part, { maxLength: 8 }).map((parts) => parts.join(''));
    const members = fc.constantFrom('', ',"name":"nginx"', ',"name":"caf\u00e9 \\"x\\""');
    // The stamped members of either are of their own millisecond: compared as STAMP.
    const unstamped = (json: string): string => json.replace(/,"node_id":"direct-node","unix_time":[0-9.]+,"human_time":"[^"]+"/, ',STAMP');
    await fc.assert(
      fc.asyncProperty(fc.array(fc.tuple(text, members), { minLength: 1, maxLength: 10 }), async (lines) => {
        const { publisher, jsons } = rawDirect();
        for (const [t, m] of lines) expect(publisher.publishLine('app.web', t, m)).toBe(true);
        await nextTurn();
        expect(jsons.map(unstamped)).toEqual(lines.map(([t, m]) => unstamped(textEventJson(t, 'direct-node').slice(0, -1) + m + '}')));
      }),
      { numRuns: 500 },
    );
  });

  it('publishes a line given as bytes as publishLine publishes its text, cut at max_event the same way', async () => {
    // Any text as UTF-8 (a JS string's lone surrogates become U+FFFD), what JSON escapes often.
    const part = fc.oneof(fc.string(), fc.string({ unit: 'binary' }), fc.constantFrom('"', '\\', '\t', '\x01', '\x7f', 'é', '€', '\u{1F600}', 'y'.repeat(50)));
    const text = fc.array(part, { maxLength: 8 }).map((parts) => parts.join(''));
    const members = fc.constantFrom('', ',"name":"nginx"');
    // One clock reading for both: where a long line is cut depends on the stamp's length.
    vi.useFakeTimers({ toFake: ['Date'], now: 1764489600123 });
    await fc.assert(
      fc.asyncProperty(fc.array(fc.tuple(text, members, fc.nat(3)), { minLength: 1, maxLength: 8 }), fc.constantFrom(1024 * 1024, 150, 200), async (lines, maxEvent) => {
        const viaBytes = rawDirect(maxEvent);
        const viaText = rawDirect(maxEvent);
        for (const [t, m, at] of lines) {
          // The line inside a larger buffer, as the tailer hands it over.
          const bytes = Buffer.from(t);
          const src = Buffer.concat([Buffer.alloc(at, 0x22), bytes, Buffer.from('\r\n"')]);
          expect(viaBytes.publisher.publishLineBytes('app.web', src, at, at + bytes.length, m)).toBe(viaText.publisher.publishLine('app.web', bytes.toString(), m));
        }
        await nextTurn();
        expect(viaBytes.jsons).toEqual(viaText.jsons);
        expect(viaBytes.publisher.stats()).toEqual(viaText.publisher.stats());
      }),
      { numRuns: 500 },
    ).finally(() => vi.useRealTimers());
  });

  it('hands what was published in one turn of the event loop over as one batch, in order, stamped', async () => {
    const { publisher, batches } = direct();
    for (let i = 0; i < 5; i++) expect(publisher.publish('syslog.web', `line ${i}`)).toBe(true);
    publisher.publishJson('syslog.db', '{"text":"as is","node_id":"x","unix_time":1,"human_time":"t"}');
    expect(batches).toEqual([]); // never from inside publish()
    await nextTurn();
    expect(batches).toHaveLength(1);
    expect(batches[0].map((e) => e.event.text)).toEqual(['line 0', 'line 1', 'line 2', 'line 3', 'line 4', 'as is']);
    expect(batches[0][0]).toMatchObject({ key: 'syslog.web', event: { node_id: 'direct-node' } });
    publisher.publish('syslog.web', 'later');
    await nextTurn();
    expect(batches.map((b) => b.length)).toEqual([6, 1]);
    expect(publisher.stats()).toMatchObject({ published: 7, sent: 7, queued: 0 });
  });

  it('refuses bad keys and events, and events longer than max_event, counting each reason', async () => {
    const { publisher, batches } = direct({ maxEvent: 200 });
    expect(publisher.publish('bad key', 'x')).toBe(false);
    expect(publisher.publish('app.x', { notext: 1 })).toBe(false);
    expect(publisher.publish('app.x', { text: 'y'.repeat(300) })).toBe(false);
    // A text line longer than max_event is split, as the Publisher does.
    expect(publisher.publish('app.x', 'z'.repeat(300))).toBe(true);
    await nextTurn();
    expect(batches[0].length).toBeGreaterThan(1);
    expect(batches[0].map((e) => e.event.text).join('')).toBe('z'.repeat(300));
    expect(publisher.stats().dropped).toMatchObject({ invalid_key: 1, invalid_event: 1, too_long: 1 });
  });

  it('publishes events given as bytes (the receivers\' fast path) among the others, copied at once', async () => {
    const { publisher, batches } = direct({ maxEvent: 150 });
    const prefix = new EventPrefix('syslog.web', '{"text":"');
    const input = Buffer.from('<30>Nov 20 10:00:00 web[1]: hello bytes\n');
    const tail = Buffer.from('","node_id":"n","unix_time":1,"human_time":"t","syslog":{"appname":"web"}}');
    publisher.publish('app.x', 'before');
    expect(publisher.publishPieces(prefix, input, 28, 39, tail)).toBe(true);
    input.fill(0); // the caller may reuse its buffer once the call returns
    expect(publisher.publishPieces(prefix, Buffer.alloc(100, 'y'), 0, 100, tail)).toBe(false);
    await nextTurn();
    expect(batches).toEqual([
      [
        { key: 'app.x', event: expect.objectContaining({ text: 'before' }) },
        { key: 'syslog.web', event: { text: 'hello bytes', node_id: 'n', unix_time: 1, human_time: 't', syslog: { appname: 'web' } } },
      ],
    ]);
    expect(publisher.stats()).toMatchObject({ published: 2, sent: 2, tooLong: 1, dropped: { too_long: 1 } });
  });

  it('escapes text given as bytes when asked, measured exactly against max_event only when its largest size would not fit', async () => {
    const { publisher, batches } = direct({ maxEvent: 120 });
    const prefix = new EventPrefix('syslog.web', '{"text":"');
    const tail = Buffer.from('"}');
    const text = Buffer.from('say "hi"\t\\ and \x01 ' + 'y'.repeat(60));
    expect(publisher.publishPieces(prefix, text, 0, text.length, tail, true)).toBe(true);
    const tooLong = Buffer.from('"'.repeat(60));
    expect(publisher.publishPieces(prefix, tooLong, 0, tooLong.length, tail, true)).toBe(false);
    await nextTurn();
    expect(batches).toEqual([[{ key: 'syslog.web', event: { text: text.toString() } }]]);
    expect(publisher.stats().dropped.too_long).toBe(1);
  });

  it('hands a burst of several batches (8,192 events each) over in one delivery, in order, and again after', async () => {
    const { publisher, batches } = direct();
    for (let round = 0; round < 2; round++) {
      for (let i = 0; i < 20_000; i++) publisher.publish('app.x', `e${i}`);
      await nextTurn();
      expect(batches).toHaveLength(round + 1);
      expect(batches[round].map((e) => e.event.text)).toEqual(Array.from({ length: 20_000 }, (_, i) => `e${i}`));
    }
  });

  it('drops what does not fit between two deliveries and tells it in-band, in the dropped key, first', async () => {
    const { publisher, batches } = direct({ maxQueuedEvents: 3 });
    const taken = [1, 2, 3, 4, 5].map((i) => publisher.publish('app.flood', `e${i}`));
    expect(taken).toEqual([true, true, true, false, false]);
    await nextTurn();
    const [first] = batches;
    expect(first[0].key).toBe('app.flood');
    expect(first[0].event.text).toMatch(/^logyard: dropped 2 events since .* \(publisher queue full\)$/);
    expect(first.slice(1).map((e) => e.event.text)).toEqual(['e1', 'e2', 'e3']);
    expect(publisher.stats().dropped.queue_full).toBe(2);
  });

  it('close() hands over what is queued at once and takes nothing after; a second close is harmless', async () => {
    const { publisher, batches } = direct();
    publisher.publish('app.x', 'last');
    await publisher.close();
    expect(batches.map((b) => b.map((e) => e.event.text))).toEqual([['last']]);
    expect(publisher.publish('app.x', 'after')).toBe(false);
    await publisher.close();
    await nextTurn();
    expect(batches).toHaveLength(1);
    expect(publisher.stats()).toMatchObject({ published: 1, sent: 1, dropped: { queue_full: 1 } });
  });

  it('is busy when what takes its events says so, told what is queued, and never by itself', async () => {
    let behind = false;
    expect(direct().publisher.busy()).toBe(false);
    const { publisher } = direct({ busy: (queued) => behind || queued > 1 });
    expect(publisher.busy()).toBe(false);
    publisher.publish('app.x', 'one');
    publisher.publish('app.x', 'two');
    expect(publisher.busy()).toBe(true); // told what waits for the next delivery
    await nextTurn();
    expect(publisher.busy()).toBe(false);
    behind = true;
    expect(publisher.busy()).toBe(true);
  });
});
