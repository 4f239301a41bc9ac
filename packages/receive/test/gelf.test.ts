import { gzipSync, deflateSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { GelfChunks, gelfPayloadText, parseGelf } from '../src/index.js';

/** The chunks a GELF sender makes of `payload`: 1e 0f, an 8-byte id, number, count, part. */
function chunks(payload: Buffer, size: number, id = Buffer.from('0123456789abcdef', 'hex')): Buffer[] {
  const count = Math.ceil(payload.length / size);
  return Array.from({ length: count }, (_, i) => Buffer.concat([Buffer.from([0x1e, 0x0f]), id, Buffer.from([i, count]), payload.subarray(i * size, (i + 1) * size)]));
}

describe('parseGelf', () => {
  it("makes Docker's gelf message an event: key by container name, text, severity, the _ fields, its time", () => {
    const r = parseGelf(JSON.stringify({
      version: '1.1', host: 'node-7', short_message: 'GET /health 200', timestamp: 1764470000.123, level: 6,
      _container_name: 'web.1', _container_id: 'abc', _image_name: 'nginx', _command: 'nginx -g daemon off;', _tag: 'abc',
    }));
    expect(r).toEqual({
      key: 'gelf.web_1',
      fields: { text: 'GET /health 200', severity: 'info', host: 'node-7', unix_time: 1764470000.123, _container_name: 'web.1', _container_id: 'abc', _image_name: 'nginx', _command: 'nginx -g daemon off;', _tag: 'abc' },
    });
  });

  it('adds full_message to the text, keys by host without a container, takes level 1 when none is given', () => {
    expect(parseGelf('{"host":"db","short_message":"boom","full_message":"trace\\nline 2"}')).toMatchObject({ key: 'gelf.db', fields: { text: 'boom\ntrace\nline 2', severity: 'alert' } });
    expect(parseGelf('{"host":"db","short_message":"boom","full_message":"boom at x","level":3}')).toMatchObject({ fields: { text: 'boom at x', severity: 'err' } });
  });

  it('names what is wrong with a message that is not GELF', () => {
    expect(parseGelf('{"host":"x"}')).toMatchObject({ malformed: 'missing_short_message' });
    expect(parseGelf('[1]')).toMatchObject({ malformed: 'not_object' });
    expect(parseGelf('{nope')).toMatchObject({ malformed: 'invalid_json' });
  });
});

describe('gelfPayloadText and GelfChunks', () => {
  const message = JSON.stringify({ host: 'h', short_message: 'x'.repeat(5000) });

  it('reads plain, gzip and zlib payloads, and counts one that does not decompress', () => {
    expect(gelfPayloadText(Buffer.from(message))).toBe(message);
    expect(gelfPayloadText(gzipSync(message))).toBe(message);
    expect(gelfPayloadText(deflateSync(message))).toBe(message);
    expect(gelfPayloadText(Buffer.from([0x1f, 0x8b, 1, 2, 3]))).toMatchObject({ malformed: 'bad_compression' });
  });

  it('puts chunks back together in any order, ignoring a repeated one', () => {
    const parts = chunks(Buffer.from(message), 1000);
    const c = new GelfChunks({ incomplete: () => {} });
    const order = [3, 0, 4, 4, 1, 5, 2];
    const results = order.map((i) => c.add(parts[i]));
    expect(results.slice(0, -1).every((r) => r === null)).toBe(true);
    expect(results.at(-1)!.toString()).toBe(message);
    expect(c.waiting).toBe(0);
  });

  it('gives up and counts a message whose chunks do not all come in time, and one past the bound', () => {
    const incomplete: string[] = [];
    const c = new GelfChunks({ timeoutMs: 5000, maxMessages: 2, incomplete: (d) => incomplete.push(d) });
    c.add(chunks(Buffer.from(message), 1000)[0], 0);
    c.expire(4000);
    expect(incomplete).toEqual([]);
    c.expire(5000);
    expect(incomplete).toEqual(['a chunked GELF message got 1 of 6 chunks in 5 s']);
    for (const id of ['01', '02', '03']) c.add(chunks(Buffer.from(message), 1000, Buffer.from(id.repeat(8), 'hex'))[0], 6000);
    expect(incomplete).toHaveLength(2);
    expect(c.waiting).toBe(2);
    expect(c.add(Buffer.from([0x1e, 0x0f, 1, 2, 3, 4, 5, 6, 7, 8, 0, 200, 65]))).toMatchObject({ malformed: 'bad_chunk' });
  });
});
