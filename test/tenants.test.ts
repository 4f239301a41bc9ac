import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Publisher } from '@logyard/bus';
import { makeTestCerts, type TestCerts } from '../packages/drains/test/tls-certs.js';
import { TcpTarget, TestNode, until } from './helpers/cli.js';
import { apiRequest, openSse } from './helpers/api.js';
import { etcdctl, freePort, startEtcd, startRsyslogReceiver, type RunningEtcd } from './setup/services.js';

/**
 * Tenants and the drains API (issue 14, docs/tenants.md): one real etcd, two real cores, node a
 * serving the API over plain HTTP on loopback and node b over HTTPS with a certificate openssl
 * made now; tenants made by the real `logyard tenant` command.
 */
describe('tenants: self-service drains over HTTP, isolated by key prefix', () => {
  let etcd: RunningEtcd;
  let certs: TestCerts;
  let a: TestNode;
  let b: TestNode;
  let apiA = '';
  let apiB = '';
  const targets: TcpTarget[] = [];
  const publishers = new Map<TestNode, Publisher>();
  let acme = '';
  let beta = '';

  beforeAll(async () => {
    etcd = await startEtcd();
    certs = makeTestCerts();
    // Node ids on loopback: the API's tail listens there and every core connects to it.
    a = new TestNode('127.0.0.2', etcd.uri);
    b = new TestNode('127.0.0.3', etcd.uri);
    const portA = await freePort();
    const portB = await freePort();
    writeFileSync(join(a.root, 'logyard.yaml'), `api: 127.0.0.1:${portA}\n`);
    writeFileSync(join(b.root, 'server.pem'), certs.server.cert);
    writeFileSync(join(b.root, 'server.key'), certs.server.key);
    writeFileSync(join(b.root, 'logyard.yaml'), `api: 127.0.0.1:${portB}\napi_tls: { cert: server.pem, key: server.key }\n`);
    apiA = `http://127.0.0.1:${portA}`;
    apiB = `https://localhost:${portB}`;
    await Promise.all([a.startCore(['--config', join(a.root, 'logyard.yaml')]), b.startCore(['--config', join(b.root, 'logyard.yaml')])]);
    acme = await addTenant('acme', 'apptail.app1');
    beta = await addTenant('beta', 'apptail.app2');
  }, 60_000);

  afterAll(async () => {
    for (const p of publishers.values()) await p.close();
    for (const t of targets) await t.close();
    await Promise.all([a, b].map((n) => n?.cleanup()));
    await etcd?.stop();
    certs?.remove();
  });

  async function addTenant(name: string, ...prefixes: string[]): Promise<string> {
    const added = await a.cli(['tenant', 'add', name, ...prefixes.flatMap((p) => ['--prefix', p])]);
    expect(added.code).toBe(0);
    expect(added.stdout).toMatch(/^lyt_[A-Za-z0-9_-]{43}\n$/);
    return added.stdout.trim();
  }

  const onA = (method: string, path: string, token: string | undefined, body?: object | string) => apiRequest(apiA, method, path, { token, body });
  const onB = (method: string, path: string, token: string | undefined, body?: object | string) => apiRequest(apiB, method, path, { token, body, ca: readFileSync(certs.caFile, 'utf8') });

  async function target(): Promise<TcpTarget> {
    const t = await new TcpTarget().listen();
    targets.push(t);
    return t;
  }

  function publish(node: TestNode, key: string, text: string): void {
    let p = publishers.get(node);
    if (!p) {
      p = new Publisher({ runDir: node.runDir, nodeId: node.nodeId });
      publishers.set(node, p);
    }
    p.publish(key, text);
  }

  async function runningOnBoth(name: string): Promise<void> {
    await until(async () => {
      for (const n of [a, b]) if ((await n.drainStatus(name))?.state !== 'RUNNING') return false;
      return true;
    }, `${name} RUNNING on both nodes`);
  }

  it('1. routes a tenant drain on whole key segments, from both nodes', async () => {
    const t = await target();
    const put = await onA('PUT', '/v1/drains/mine', acme, { uri: `tcp://127.0.0.1:${t.port}?format=raw` });
    expect(put.status).toBe(201);
    expect(put.json).toEqual({ name: 'mine', uri: `tcp://127.0.0.1:${t.port}?format=raw`, filters: [], token: expect.stringMatching(/^d\.[0-9a-f-]{36}$/) });
    await runningOnBoth('tenant.acme.mine');
    for (const node of [a, b]) {
      for (const key of ['apptail.app1', 'apptail.app1.web', 'apptail.app10', 'apptail.app1x', 'apptail.app2']) publish(node, key, `${key} on ${node.nodeId}`);
      publish(node, 'apptail.app1', `last on ${node.nodeId}`);
    }
    await until(() => t.rawEvents.filter((e) => e.event.text.startsWith('last on')).length === 2, 'the last events of both nodes');
    const got = t.rawEvents.map((e) => `${e.key} ${e.event.node_id}`).sort();
    expect(got).toEqual(
      ['apptail.app1', 'apptail.app1', 'apptail.app1.web'].flatMap((key) => [`${key} 127.0.0.2`, `${key} 127.0.0.3`]).sort(),
    );
    // The same drain through the other node's HTTPS API.
    const listed = await onB('GET', '/v1/drains', acme);
    expect(listed.status).toBe(200);
    expect(listed.json).toEqual([put.json]);
  });

  it('2. answers 401, 403, 404 and 400 as documented, and hides passwords', async () => {
    expect((await onA('GET', '/v1/drains', undefined)).status).toBe(401);
    expect((await onA('GET', '/v1/drains', 'lyt_wrong')).status).toBe(401);
    const outside = await onA('PUT', '/v1/drains/x', acme, { uri: 'tcp://127.0.0.1:9', filters: ['apptail.app10'] });
    expect(outside.status).toBe(403);
    expect(outside.json.error).toMatch(/^filters: "apptail\.app10" is outside the prefixes of tenant acme/);
    expect((await onA('PUT', '/v1/drains/x', acme, { uri: 'tcp://127.0.0.1:9?filter=apptail.app2' })).status).toBe(403);
    // Another tenant's drain is not there, for reading, status and deleting alike.
    expect((await onA('GET', '/v1/drains/mine', beta)).status).toBe(404);
    expect((await onA('GET', '/v1/drains/mine/status', beta)).status).toBe(404);
    expect((await onA('DELETE', '/v1/drains/mine', beta)).status).toBe(404);
    expect((await onA('GET', '/v1/drains', beta)).json).toEqual([]);
    const file = await onA('PUT', '/v1/drains/x', acme, { uri: 'file:///var/log/logyard/x.log' });
    expect(file.status).toBe(403);
    const disk = await onA('PUT', '/v1/drains/x', acme, { uri: 'tcp://127.0.0.1:9?disk=64MiB' });
    expect(disk.status).toBe(400);
    expect(disk.json.field).toBe('uri');
    const badUri = await onA('PUT', '/v1/drains/x', acme, { uri: 'tcp://127.0.0.1:99999' });
    expect(badUri.status).toBe(400);
    expect(badUri.json).toEqual({ error: expect.stringMatching(/^uri: .*port/), field: 'uri' });
    const badType = await onA('PUT', '/v1/drains/x', acme, { uri: 'tcp://127.0.0.1:9', filters: 'apptail.app1' });
    expect(badType.json.field).toBe('filters');
    expect(badType.status).toBe(400);
    expect((await onA('PUT', '/v1/drains/x', acme, '{not json')).json).toEqual({ error: 'body: not valid JSON', field: 'body' });
    expect((await onA('PUT', '/v1/drains/x', acme, { uri: 'tcp://127.0.0.1:9', extra: 1 })).json.field).toBe('extra');
    expect((await onA('PUT', '/v1/drains/x', acme, 'x'.repeat(100_000))).status).toBe(413);
    const secret = await onA('PUT', '/v1/drains/secret', acme, { uri: 'https://user:hunter2@127.0.0.1:6514/logs' });
    expect(secret.status).toBe(201);
    expect(secret.json.uri).toBe('https://user:***@127.0.0.1:6514/logs');
    expect(JSON.stringify((await onB('GET', '/v1/drains/secret', acme)).json)).not.toContain('hunter2');
    expect((await onB('DELETE', '/v1/drains/secret', acme)).status).toBe(204);
    expect((await onA('GET', '/v1/drains/secret', acme)).status).toBe(404);
    const status = await onB('GET', '/v1/drains/mine/status', acme);
    expect(status.status).toBe(200);
    expect(status.json.nodes.map((n: { node_id: string; state: string }) => `${n.node_id} ${n.state}`)).toEqual(['127.0.0.2 RUNNING', '127.0.0.3 RUNNING']);
  });

  it('3. streams the tenant\'s events from the other node over SSE, and refuses a prefix outside', async () => {
    expect((await apiRequest(apiA, 'GET', '/v1/tail?filter=apptail.app2', { token: acme })).status).toBe(403);
    const sse = await openSse(apiA, '/v1/tail?filter=apptail.app1', acme);
    expect(sse.status).toBe(200);
    try {
      await until(async () => {
        for (const n of [a, b]) if (!(await n.status()).drains.some((d: { name: string; state: string }) => d.name.startsWith('tenant.acme.tmp.tail.') && d.state === 'RUNNING')) return false;
        return true;
      }, 'the tail drain running on both nodes');
      const started = Date.now();
      publish(b, 'apptail.app10', 'not mine');
      publish(b, 'apptail.app1.worker', 'from b');
      await until(() => sse.messages.some((m) => m.text === 'from b'), 'the event of node b', 5_000);
      expect(Date.now() - started).toBeLessThan(5_000);
      expect(sse.messages.find((m) => m.text === 'from b')).toMatchObject({ key: 'apptail.app1.worker', node_id: '127.0.0.3' });
      expect(sse.messages.some((m) => m.text === 'not mine')).toBe(false);
    } finally {
      sse.close();
    }
    // The temporary drain goes with the client.
    await until(async () => !(await a.status()).drains.some((d: { name: string }) => d.name.startsWith('tenant.acme.tmp.')), 'the tail drain removed');
  });

  it('5. sends the drain token in the syslog structured data and in the http header', async () => {
    const rsyslog = await startRsyslogReceiver();
    const headers: IncomingHttpHeaders[] = [];
    const http: Server = createServer((req, res) => {
      headers.push(req.headers);
      req.resume();
      req.on('end', () => res.end());
    });
    await new Promise<void>((r) => http.listen(0, '127.0.0.1', () => r()));
    try {
      const port = (http.address() as { port: number }).port;
      const sys = await onA('PUT', '/v1/drains/papertrail', acme, { uri: `syslog://127.0.0.1:${rsyslog.port}`, filters: ['apptail.app1'] });
      const web = await onA('PUT', '/v1/drains/web', acme, { uri: `http://127.0.0.1:${port}/ingest` });
      expect([sys.status, web.status]).toEqual([201, 201]);
      await runningOnBoth('tenant.acme.papertrail');
      await runningOnBoth('tenant.acme.web');
      publish(a, 'apptail.app1', 'with a token');
      await until(() => rsyslog.lines().some((l) => l.endsWith('|with a token')) && headers.length > 0, 'the event at both receivers');
      const line = rsyslog.lines().find((l) => l.endsWith('|with a token'))!;
      expect(line.split('|')[4]).toBe(`[logyard@32473 drain="${sys.json.token}"]`);
      expect(headers[0]['logyard-drain-token']).toBe(web.json.token);
    } finally {
      await new Promise<void>((r) => http.close(() => r()));
      await rsyslog.close();
    }
  });

  it('6. publishes audit events for an API add and a CLI add, with their actors', async () => {
    const t = await target();
    expect((await a.cli(['drain', 'add', 'audit', `tcp://127.0.0.1:${t.port}`, '-f', 'event.logyard_audit'])).code).toBe(0);
    await runningOnBoth('audit');
    expect((await onA('PUT', '/v1/drains/audited', acme, { uri: 'http://user:pw@127.0.0.1:9/in' })).status).toBe(201);
    expect((await a.cli(['drain', 'add', 'by-cli', 'tcp://127.0.0.1:9'])).code).toBe(0);
    await until(() => t.events.some((e) => e.info?.name === 'by-cli') && t.events.some((e) => e.info?.name === 'tenant.acme.audited'), 'both audit events');
    const api = t.events.find((e) => e.info?.name === 'tenant.acme.audited');
    expect(api).toMatchObject({ type: 'logyard_audit', node_id: '127.0.0.2', desc: 'drain added: tenant.acme.audited http://user:***@127.0.0.1:9/in', info: { actor: 'tenant:acme', action: 'drain.add' } });
    const cli = t.events.find((e) => e.info?.name === 'by-cli');
    expect(cli.info).toEqual({ actor: expect.stringMatching(/^cli:[^@]+@.+$/), action: 'drain.add', name: 'by-cli' });
    // No token or hash in any audit event nor in the cores' logs.
    const everything = JSON.stringify(t.events) + a.coreLog + b.coreLog;
    expect(everything).not.toContain(acme);
    expect(everything).not.toContain('lyt_');
    await a.cli(['drain', 'delete', 'audit', 'by-cli']);
  });

  it('1b. stops routing a prefix taken from the tenant at once, on every node', async () => {
    const t = await target();
    expect((await onA('PUT', '/v1/drains/moving', acme, { uri: `tcp://127.0.0.1:${t.port}?format=raw` })).status).toBe(201);
    await runningOnBoth('tenant.acme.moving');
    // The operator's own tooling rewrites the tenant: apptail.app1 taken away, apptail.app9 given.
    const stored = JSON.parse((await etcdctl(etcd.endpoint, ['get', '--print-value-only', '/logyard/tenants/acme'])).trim());
    await etcdctl(etcd.endpoint, ['put', '/logyard/tenants/acme', JSON.stringify({ ...stored, prefixes: ['apptail.app9'] })]);
    await until(async () => {
      // Each node's events reach the drain in order: once app9 arrives, app1 (sent first) would have too.
      for (const node of [a, b]) {
        publish(node, 'apptail.app1', `gone ${node.nodeId}`);
        publish(node, 'apptail.app9', `given ${node.nodeId}`);
      }
      return [a, b].every((node) => t.rawEvents.some((e) => e.event.text === `given ${node.nodeId}`));
    }, 'apptail.app9 routed on both nodes', 3_000);
    for (const node of [a, b]) {
      const fromNode = t.rawEvents.filter((e) => e.event.node_id === node.nodeId);
      const firstGiven = fromNode.findIndex((e) => e.key === 'apptail.app9');
      expect(fromNode.slice(firstGiven).filter((e) => e.key === 'apptail.app1')).toEqual([]);
    }
    await etcdctl(etcd.endpoint, ['put', '/logyard/tenants/acme', JSON.stringify(stored)]);
    expect((await onA('DELETE', '/v1/drains/moving', acme)).status).toBe(204);
  });

  it('4. rotate: the old token fails within 2 s; delete: the tenant\'s drains stop everywhere', async () => {
    const old = beta;
    const openTail = await openSse(apiB, '/v1/tail', old, readFileSync(certs.caFile, 'utf8'));
    expect(openTail.status).toBe(200);
    let tailEnded = false;
    openTail.ended.then(() => (tailEnded = true));
    const rotated = await a.cli(['tenant', 'rotate', 'beta']);
    expect(rotated.code).toBe(0);
    beta = rotated.stdout.trim();
    const since = Date.now();
    await until(async () => (await onB('GET', '/v1/drains', old)).status === 401, 'the old token refused on node b', 2_000);
    expect(Date.now() - since).toBeLessThan(2_000);
    expect((await onB('GET', '/v1/drains', beta)).status).toBe(200);
    // A stream opened with the old token ends too.
    await until(() => tailEnded, 'the tail opened with the old token to end', 2_000);

    const listed = await a.cli(['tenant', 'list']);
    expect(listed.stdout.split('\n')[0]).toMatch(/^NAME\s+PREFIXES\s+CREATED$/);
    expect(listed.stdout).toMatch(/^acme\s+apptail\.app1\s+\d{4}-/m);
    expect(listed.stdout + (await a.cli(['tenant', 'list', '--json'])).stdout).not.toMatch(/lyt_|[0-9a-f]{64}/);
    expect((await a.cli(['tenant', 'rotate', 'acm'])).stderr).toBe('logyard: no tenant named acm; did you mean acme?\n');

    const t = await target();
    expect((await onA('PUT', '/v1/drains/last', acme, { uri: `tcp://127.0.0.1:${t.port}` })).status).toBe(201);
    await runningOnBoth('tenant.acme.last');
    const deleted = await a.cli(['tenant', 'delete', 'acme']);
    expect(deleted.code).toBe(0);
    expect(deleted.stdout).toMatch(/^deleted tenant acme and its drains .*tenant\.acme\.last/);
    await until(async () => {
      for (const n of [a, b]) if ((await n.status()).drains.some((d: { name: string }) => d.name.startsWith('tenant.acme.'))) return false;
      return true;
    }, 'no drain of acme left on either node', 2_000);
    expect((await onA('GET', '/v1/drains', acme)).status).toBe(401);
    const before = t.lines.length;
    publish(a, 'apptail.app1', 'after delete');
    publish(b, 'apptail.app1', 'after delete');
    await new Promise((r) => setTimeout(r, 500));
    expect(t.lines.length).toBe(before);
  });
});
