import { describe, expect, it } from 'vitest';
import { decodeBatch, DirectPublisher, type WireBatch } from '@logyard/bus';
import { eventJsonAsSent, isJsonProblem, JsonPieces, parseJsonEvent } from '../src/index.js';

describe('parseJsonEvent', () => {
  it("keys an object by its name and keeps the sender's fields", () => {
    expect(parseJsonEvent('{"name":"orders","text":"placed","order":42,"tags":["a"]}', 'app')).toEqual({
      key: 'app.orders',
      fields: { name: 'orders', text: 'placed', order: 42, tags: ['a'] },
      asSent: true,
    });
    expect(parseJsonEvent('{"name":"shop.eu","text":""}', 'app')).toMatchObject({ key: 'app.shop.eu' });
  });

  it('takes text from message or msg when there is none, else empty', () => {
    expect(parseJsonEvent('{"name":"a","message":"m"}', 'app')).toMatchObject({ fields: { text: 'm', message: 'm' } });
    expect(parseJsonEvent('{"name":"a","msg":"p"}', 'app')).toMatchObject({ fields: { text: 'p' } });
    expect(parseJsonEvent('{"name":"a"}', 'app')).toMatchObject({ fields: { text: '' } });
  });

  it('drops stamped fields of the wrong type so the publisher stamps them', () => {
    const r = parseJsonEvent('{"name":"a","unix_time":"yesterday","node_id":7,"human_time":"x"}', 'app');
    expect(r).toEqual({ key: 'app.a', fields: { name: 'a', text: '', human_time: 'x' }, asSent: false });
  });

  it('refuses with a reason', () => {
    expect(parseJsonEvent('{"name":', 'app')).toMatchObject({ malformed: 'invalid_json' });
    expect(parseJsonEvent('[1]', 'app')).toMatchObject({ malformed: 'not_object' });
    expect(parseJsonEvent('"s"', 'app')).toMatchObject({ malformed: 'not_object' });
    expect(parseJsonEvent('null', 'app')).toMatchObject({ malformed: 'not_object' });
    expect(parseJsonEvent('{"text":"x"}', 'app')).toMatchObject({ malformed: 'missing_name' });
    expect(parseJsonEvent('{"name":3}', 'app')).toMatchObject({ malformed: 'invalid_name' });
    expect(parseJsonEvent('{"name":"a b"}', 'app')).toMatchObject({ malformed: 'invalid_name' });
    expect(parseJsonEvent('{"name":"x".repeat(300)}'.replace('"x".repeat(300)', JSON.stringify('x'.repeat(300))), 'app')).toMatchObject({ malformed: 'invalid_name' });
    expect(parseJsonEvent('{"name":"a","text":5}', 'app')).toMatchObject({ malformed: 'invalid_text' });
  });

  it('an object with a string text and no stamped field goes out as sent, the stamped members spliced before its last brace', () => {
    const stamp = ',"node_id":"n1","unix_time":1.5,"human_time":"t"';
    const asSent = (line: string): string | null => {
      const r = parseJsonEvent(line, 'app');
      if (isJsonProblem(r)) throw new Error(r.detail);
      return eventJsonAsSent(line, r, stamp);
    };
    expect(asSent('{"name":"a","text":"x","n":12345678901234567890}')).toBe('{"name":"a","text":"x","n":12345678901234567890' + stamp + '}');
    // Whitespace around it (a CRLF line end, an indented line) is left out; spaces between tokens are kept.
    expect(asSent('  {"name": "a", "text": "x\\u00e9 }"} \r')).toBe('{"name": "a", "text": "x\\u00e9 }"}'.slice(0, -1) + stamp + '}');
    const parsed = JSON.parse(asSent('{ "name":"a" ,"text":"}","o":{"k":[1]} }')!);
    expect(parsed).toEqual({ name: 'a', text: '}', o: { k: [1] }, node_id: 'n1', unix_time: 1.5, human_time: 't' });
    // Anything to change, or a CR between tokens: the fields are serialized instead.
    expect(asSent('{"name":"a","message":"m"}')).toBeNull();
    expect(asSent('{"name":"a","text":"x","unix_time":5}')).toBeNull();
    expect(asSent('{"name":"a","text":"x","node_id":7}')).toBeNull();
    expect(asSent('{"name":"a",\r"text":"x"}')).toBeNull();
  });

  it('JsonPieces publishes a datagram that is one object from its bytes: the same event as the string path, or declines', async () => {
    const events: Array<{ key: string; json: string }> = [];
    const publisher = new DirectPublisher({
      nodeId: 'n1',
      maxEvent: 1 << 20,
      deliver: (batches: WireBatch[]) => {
        for (const b of batches) decodeBatch(b.body, { event: (key, json) => events.push({ key, json }), malformed: () => {} });
      },
    });
    const pieces = new JsonPieces('n1');
    const send = (text: string): boolean => {
      // The datagram inside a larger read, as the udp listener hands it over.
      const buf = Buffer.from('junk' + text + 'more');
      const r = parseJsonEvent(text, 'app');
      if (isJsonProblem(r)) throw new Error(r.detail);
      return pieces.publish(publisher, r, text, buf, 4, buf.length - 4);
    };
    expect(send('{"name":"a","text":"caf\\u00e9 ü","n":1}\n')).toBe(true);
    expect(send(' {"name": "b", "text": "x"} ')).toBe(true);
    expect(send('{"name":"c","message":"m"}')).toBe(false);
    expect(send('{"name":"c",\r"text":"x"}')).toBe(false);
    await publisher.close();
    expect(events.map((e) => e.key)).toEqual(['app.a', 'app.b']);
    const a = JSON.parse(events[0].json);
    expect(a).toMatchObject({ name: 'a', text: 'café ü', n: 1, node_id: 'n1' });
    expect(typeof a.unix_time).toBe('number');
    expect(events[0].json.startsWith('{"name":"a","text":"caf\\u00e9 ü","n":1,"node_id":"n1","unix_time":')).toBe(true);
    expect(events[1].json.startsWith('{"name": "b", "text": "x","node_id":"n1"')).toBe(true);
  });
});
