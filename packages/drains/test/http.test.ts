import { describe, expect, it } from 'vitest';
import type { DrainStatus } from '../src/index.js';
import { closedAfterEach, eventJson, makeDrain, unusedPort, waitFor, waitForState } from './helpers.js';
import { listenForHttp, type HttpTarget } from './targets.js';
import { useTestCerts } from './tls-certs.js';

const certs = useTestCerts();
const httpTarget = closedAfterEach(listenForHttp);

/** The events' texts of every POST that was answered 2xx, in order. */
function deliveredTexts(target: HttpTarget): string[] {
  return target.posts.filter((post) => post.status < 300).flatMap((post) => post.body.trimEnd().split('\n').map((line) => JSON.parse(line).text));
}

const texts = (count: number): string[] => Array.from({ length: count }, (_, i) => `event ${i}`);

describe('http drain', () => {
  it('POSTs 50 events as newline-delimited JSON in fewer than 50 requests, on one kept-alive connection', async () => {
    const target = await httpTarget();
    const drain = makeDrain('ingest', `http://127.0.0.1:${target.port}/v1/logs?batch=20`);
    drain.start();
    await waitForState(drain, 'RUNNING');
    for (const text of texts(50)) drain.push('apptail.shop', eventJson(text, { app_name: 'shop' }));
    // The server records a POST before the drain has its answer: wait for the drain's count.
    await waitFor('50 events sent', () => drain.status().sent === 50, undefined, drain);

    expect(deliveredTexts(target)).toEqual(texts(50));
    expect(target.posts.length).toBeLessThan(50);
    for (const post of target.posts) {
      expect(post).toMatchObject({ method: 'POST', url: '/v1/logs' });
      expect(post.headers['content-type']).toBe('application/x-ndjson');
      expect(post.headers.authorization).toBeUndefined();
      expect(post.body.endsWith('\n')).toBe(true);
      expect(post.body.trimEnd().split('\n').length).toBeLessThanOrEqual(20);
    }
    expect(new Set(target.posts.map((post) => post.connection)).size).toBe(1);
    expect(drain.status()).toMatchObject({ state: 'RUNNING', sent: 50, buffered: 0 });
  });

  it('retries a 503 and then delivers every event once', async () => {
    const target = await httpTarget();
    target.answer(503, 'maintenance');
    const seen: DrainStatus[] = [];
    const drain = makeDrain('flaky', `http://127.0.0.1:${target.port}/`, { onStatus: (status) => seen.push(status) });
    for (const text of texts(50)) drain.push('systail.app', eventJson(text));
    drain.start();
    const retrying = await waitForState(drain, 'RETRYING');
    expect(retrying.error).toBe(`HTTP 503 Service Unavailable from http://127.0.0.1:${target.port}/: maintenance`);
    expect(retrying.buffered).toBe(50);

    target.answer(200);
    await waitFor('the events after the retry', () => drain.status().sent === 50, 20_000, drain);
    expect(deliveredTexts(target)).toEqual(texts(50));
    expect(target.posts.filter((post) => post.status === 503).length).toBeGreaterThan(0);
    const status = await waitForState(drain, 'RUNNING');
    expect(status).toMatchObject({ sent: 50, buffered: 0 });
    expect(status.error).toBeUndefined();
    expect(seen.some((s) => s.state === 'RETRYING' && s.error?.startsWith('HTTP 503'))).toBe(true);
  });

  it('a 400 makes the drain FATAL with the status, and it does not retry', async () => {
    const target = await httpTarget();
    target.answer(400, '{"error": "invalid token"}');
    const drain = makeDrain('bad-token', `http://127.0.0.1:${target.port}/ingest?batch=5`);
    drain.start();
    drain.push('systail.app', eventJson('refused'));
    const status = await waitForState(drain, 'FATAL');
    expect(status.error).toBe(`HTTP 400 Bad Request from http://127.0.0.1:${target.port}/ingest: {"error": "invalid token"}`);
    await drain.close();
    expect(target.posts).toHaveLength(1);
    expect(drain.status()).toMatchObject({ state: 'STOPPED', sent: 0 });
  });

  it('is RETRYING with the reason while nothing listens', async () => {
    const port = await unusedPort();
    const drain = makeDrain('down', `http://127.0.0.1:${port}/`);
    drain.start();
    const status = await waitForState(drain, 'RETRYING');
    expect(status.error).toBe(`connect ECONNREFUSED 127.0.0.1:${port}`);
  });

  it('https: verifies the server with ca=, sends Basic auth, and text lines for other formats', async () => {
    const target = await httpTarget(certs().server);
    const drain = makeDrain('secure', `https://logyard:s3cr%3At@localhost:${target.port}/bulk?ca=${certs().caFile}&format={{key}}: {{text}}`);
    drain.start();
    drain.push('systail.nginx', eventJson('one'));
    drain.push('systail.nginx', eventJson('two'));
    await waitFor('two events sent', () => drain.status().sent === 2, undefined, drain);
    expect(target.posts.map((post) => post.body).join('')).toBe('systail.nginx: one\nsystail.nginx: two\n');
    expect(target.posts[0].headers['content-type']).toBe('text/plain; charset=utf-8');
    expect(target.posts[0].headers.authorization).toBe(`Basic ${Buffer.from('logyard:s3cr:t').toString('base64')}`);
    expect(drain.status()).toMatchObject({ state: 'RUNNING', sent: 2, uri: expect.stringContaining('logyard:***@localhost') });
  });

  it('https without ca= refuses a certificate from an unknown CA (RETRYING)', async () => {
    const target = await httpTarget(certs().server);
    const drain = makeDrain('unknown-ca', `https://localhost:${target.port}/`);
    drain.start();
    drain.push('systail.app', eventJson('kept back'));
    const status = await waitForState(drain, 'RETRYING');
    expect(status.error).toBe(
      `TLS certificate of localhost:${target.port} rejected: unable to verify the first certificate (give ca=/path/to/ca.pem to trust its CA, or insecure=true)`,
    );
    expect(target.posts).toEqual([]);
  });
});
