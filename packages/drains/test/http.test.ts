import { createServer, type Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import type { DrainStatus } from '../src/index.js';
import { closedAfterEach, eventJson, listenRaw, makeDrain, unusedPort, waitFor, waitForState } from './helpers.js';
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

  it("passes the target's own query params to it exactly as written, and keeps Logyard's own", async () => {
    const target = await httpTarget();
    const own = 'query=INSERT%20INTO%20logs%20FORMAT%20JSONEachRow&input_format_skip_unknown_fields=1&a=x+y&a=2';
    const drain = makeDrain('clickhouse', `http://127.0.0.1:${target.port}/?${own.slice(0, 49)}&filter=systail&batch=2&${own.slice(50)}&format=json`);
    drain.start();
    for (const text of texts(3)) drain.push('systail.app', eventJson(text));
    await waitFor('3 events sent', () => drain.status().sent === 3, undefined, drain);
    expect(target.posts.map((post) => post.url)).toEqual([`/?${own}`, `/?${own}`]);
    expect(deliveredTexts(target)).toEqual(texts(3));
    // Messages name the target without its query, which may hold credentials of its own.
    target.answer(503, 'busy');
    drain.push('systail.app', eventJson('later'));
    expect((await waitForState(drain, 'RETRYING')).error).toBe(`HTTP 503 Service Unavailable from http://127.0.0.1:${target.port}/: busy`);
  });

  it('cuts an error body and hides the credentials it echoes', async () => {
    const target = await httpTarget();
    target.answer(401, 'denied: Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.c2VjcmV0.sig {"password":"hunter2"} ' + 'x'.repeat(500));
    const drain = makeDrain('echo', `http://127.0.0.1:${target.port}/in`);
    drain.start();
    drain.push('systail.app', eventJson('refused'));
    const { error } = await waitForState(drain, 'FATAL');
    const prefix = `HTTP 401 Unauthorized from http://127.0.0.1:${target.port}/in: `;
    expect(error).toBe(prefix + ('denied: Authorization: Bearer *** {"password":"***"} ' + 'x'.repeat(500)).slice(0, 120));
  });

  it('is RETRYING with the reason while nothing listens', async () => {
    const port = await unusedPort();
    const drain = makeDrain('down', `http://127.0.0.1:${port}/`);
    drain.start();
    const status = await waitForState(drain, 'RETRYING');
    expect(status.error).toBe(`connect ECONNREFUSED 127.0.0.1:${port}`);
  });

  it('sends again at once, on a new connection, when the server had closed the kept-alive one', async () => {
    const server = await staleKeepAliveServer();
    const seen: DrainStatus[] = [];
    const drain = makeDrain('kept-alive', `http://127.0.0.1:${server.port}/`, { onStatus: (status) => seen.push(status) });
    drain.start();
    drain.push('systail.app', eventJson('first'));
    await waitFor('the first event sent', () => drain.status().sent === 1, undefined, drain);
    drain.push('systail.app', eventJson('second'));
    await waitFor('the second event sent', () => drain.status().sent === 2, undefined, drain);
    expect(server.bodies.map((body) => JSON.parse(body).text)).toEqual(['first', 'second']);
    expect(server.resets).toBe(1);
    expect(seen.map((status) => status.state)).toEqual(['RUNNING']);
  });

  it('close() ends a POST the target never answers, and twice is fine', async () => {
    const target = await silentServer();
    const drain = makeDrain('hanging', `http://127.0.0.1:${target.port}/`);
    drain.start();
    drain.push('systail.app', eventJson('never answered'));
    await waitFor('the request at the target', () => target.requests === 1, undefined, drain);
    await Promise.all([drain.close(), drain.close()]);
    expect(drain.status()).toMatchObject({ state: 'STOPPED', sent: 0, buffered: 1 });
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

/**
 * A minimal HTTP/1.1 server on a raw socket: it answers the first request of a connection and
 * resets that connection when a second request comes on it, as a server does that closed an
 * idle kept-alive connection just as the client reused it. Other connections are served normally.
 */
const staleKeepAliveServer = closedAfterEach(async () => {
  const state = { port: 0, bodies: [] as string[], resets: 0 };
  const server = await rawHttpServer((request, socket, index) => {
    if (index > 0) {
      state.resets++;
      socket.resetAndDestroy();
      return;
    }
    state.bodies.push(request);
    socket.write('HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: keep-alive\r\n\r\n');
  });
  state.port = server.port;
  return Object.assign(state, { close: server.close });
});

/** Takes requests and never answers them. */
const silentServer = closedAfterEach(async () => {
  const state = { port: 0, requests: 0 };
  const server = await rawHttpServer(() => {
    state.requests++;
  });
  state.port = server.port;
  return Object.assign(state, { close: server.close });
});

/** Calls `onRequest` with each request's body, the socket and the request's index on that socket. */
async function rawHttpServer(onRequest: (body: string, socket: Socket, index: number) => void): Promise<{ port: number; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    let pending = '';
    let index = 0;
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      pending += chunk;
      for (;;) {
        const headEnd = pending.indexOf('\r\n\r\n');
        if (headEnd < 0) return;
        const length = Number(/\r\ncontent-length: *(\d+)/i.exec(pending.slice(0, headEnd))?.[1] ?? 0);
        if (pending.length < headEnd + 4 + length) return;
        const body = pending.slice(headEnd + 4, headEnd + 4 + length);
        pending = pending.slice(headEnd + 4 + length);
        onRequest(body, socket, index++);
      }
    });
  });
  return listenRaw(server, sockets);
}
