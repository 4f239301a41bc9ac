import { request, type IncomingHttpHeaders } from 'node:http';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestNode, until } from './helpers/cli.js';
import { apiRequest } from './helpers/api.js';
import { freePort } from './setup/services.js';

/** How many random requests; each is a real HTTP request to a real core. */
const RUNS = 400;

interface Answer {
  status: number;
  text: string;
}

/**
 * The drains API under random requests (issue 14, 7): random methods, paths, bodies, headers and
 * tokens against a real core. Whatever comes, the answer is never a 5xx, the core never dies, and
 * no answer to tenant acme (or to no valid token) shows anything of tenant beta's drains.
 */
describe('the drains API under random requests', () => {
  const node = new TestNode('fuzz-node');
  let base = '';
  let acme = '';
  let beta = '';
  /** What only beta may see: its drain's URI parts and drain token. */
  const betaSecrets: string[] = [];

  beforeAll(async () => {
    const port = await freePort();
    writeFileSync(join(node.root, 'logyard.yaml'), `api: 127.0.0.1:${port}\n`);
    await node.startCore(['--config', join(node.root, 'logyard.yaml')]);
    base = `http://127.0.0.1:${port}`;
    acme = (await node.cli(['tenant', 'add', 'acme', '--prefix', 'apptail.app1'])).stdout.trim();
    beta = (await node.cli(['tenant', 'add', 'beta', '--prefix', 'apptail.app2'])).stdout.trim();
    // The core sees new tenants through its store watch.
    await until(async () => (await apiRequest(base, 'GET', '/v1/drains', { token: beta })).status === 200, 'the core to know beta');
    const secret = await apiRequest(base, 'PUT', '/v1/drains/secret', { token: beta, body: { uri: 'http://127.0.0.1:9/betaonlypath' } });
    expect(secret.status).toBe(201);
    betaSecrets.push('betaonlypath', secret.json.token, beta);
    expect((await apiRequest(base, 'PUT', '/v1/drains/mine', { token: acme, body: { uri: 'tcp://127.0.0.1:9' } })).status).toBe(201);
  }, 30_000);

  afterAll(async () => {
    await node.cleanup();
  });

  const segment = fc.oneof(
    fc.constantFrom('v1', 'drains', 'tail', 'status', 'secret', 'mine', 'tenant.beta.secret', '..', '%2e%2e', '%2F', '', 'beta', '%E0%A4%A', '?filter=apptail', '%00'),
    fc.string({ maxLength: 12 }).map(encodeURIComponent),
  );
  const path = fc.oneof(
    fc.array(segment, { maxLength: 5 }).map((parts) => '/' + parts.join('/')),
    fc.tuple(fc.constantFrom('/v1/drains/', '/v1/drains/secret', '/v1/tail?filter=', '/v1/drains/mine/'), segment).map(([a, b]) => a + b),
  );
  const body = fc.oneof(
    fc.constant(undefined),
    fc.json(),
    fc.string({ maxLength: 200 }),
    fc.record({ uri: fc.oneof(fc.string(), fc.constantFrom('tcp://127.0.0.1:9', 'file:///tmp/x', 'http://u:p@127.0.0.1:9/?disk=64MiB', 'syslog://h:1?filter=apptail.app2')), filters: fc.oneof(fc.array(fc.string(), { maxLength: 4 }), fc.anything()) }, { requiredKeys: [] }),
  );
  const token = fc.oneof(fc.constant('ACME'), fc.constant(undefined), fc.string({ maxLength: 60 }).filter((t) => /^[\x21-\x7e]*$/.test(t)), fc.constant('lyt_'));
  const headerValue = fc.string({ maxLength: 40 }).filter((v) => /^[\x20-\x7e]*$/.test(v));
  const headers = fc.dictionary(fc.constantFrom('content-type', 'x-forwarded-for', 'accept', 'content-encoding', 'transfer-encoding-x', 'authorization-x', 'range'), headerValue, { maxKeys: 3 });
  const method = fc.constantFrom('GET', 'PUT', 'DELETE', 'POST', 'PATCH', 'HEAD', 'OPTIONS');

  it(`answers ${RUNS} random requests without a 5xx, a crash, or beta's data`, async () => {
    await fc.assert(
      fc.asyncProperty(method, path, body, token, headers, async (m, p, b, t, h) => {
        const bearer = t === 'ACME' ? acme : t;
        const answer = await send(base, m, p, b, bearer, h);
        expect(answer.status, `${m} ${p}`).toBeLessThan(500);
        expect(answer.status).toBeGreaterThanOrEqual(200);
        for (const secret of betaSecrets) expect(answer.text).not.toContain(secret);
      }),
      { numRuns: RUNS },
    );
    expect(node.core?.exitCode).toBeNull();
    // Still serving, and acme's drain and beta's are as they were (whatever a random DELETE or PUT by acme did to acme's own).
    expect((await apiRequest(base, 'GET', '/v1/drains/secret', { token: beta })).status).toBe(200);
  }, 120_000);
});

/** One raw request; a stream (the tail) is read for a moment and then left. */
function send(base: string, method: string, path: string, body: unknown, token: string | undefined, headers: Record<string, string>): Promise<Answer> {
  const text = body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = request(
      base + path,
      {
        method,
        headers: { ...headers, ...(token === undefined ? {} : { authorization: `Bearer ${token}` }), ...(text === undefined ? {} : { 'content-length': String(Buffer.byteLength(text)) }) },
      },
      (res) => {
        let received = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (received += chunk));
        const done = (): void => resolve({ status: res.statusCode ?? 0, text: received + JSON.stringify(res.headers as IncomingHttpHeaders) });
        if (String(res.headers['content-type']).startsWith('text/event-stream')) {
          setTimeout(() => {
            req.destroy();
            done();
          }, 100);
          return;
        }
        res.on('end', done);
        res.on('error', reject);
      },
    );
    req.on('error', (err) => reject(new Error(`${method} ${path}: ${err.message}`)));
    req.end(text);
  });
}
