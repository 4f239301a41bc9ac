import { afterAll, describe, expect, it } from 'vitest';
import { request } from 'node:http';
import { TestNode, until } from './helpers/cli.js';
import { freePort } from './setup/services.js';

function get(port: number, path: string): Promise<{ status: number; type: string; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, type: String(res.headers['content-type']), body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('the status API on TCP', () => {
  const first = new TestNode('status-a');
  const second = new TestNode('status-b');
  afterAll(async () => {
    await first.cleanup();
    await second.cleanup();
  });

  it('serves /status as JSON and /metrics for Prometheus; a taken port is a warning, not a failed start', async () => {
    const port = await freePort();
    await first.startCore(['--status', `127.0.0.1:${port}`]);
    await first.cli(['drain', 'add', 'm1', 'tcp://127.0.0.1:9?filter=metrics.test']);
    await until(async () => (await first.drainStatus('m1')) !== undefined, 'the drain to exist');
    expect((await first.cli(['publish', 'metrics.test', 'one', 'two'])).code).toBe(0);

    const status = await get(port, '/status');
    expect(status.status).toBe(200);
    expect(status.type).toContain('application/json');
    expect(JSON.parse(status.body)).toMatchObject({ node_id: 'status-a', drains: [{ name: 'm1' }] });

    const metrics = await until(async () => {
      const m = await get(port, '/metrics');
      return /logyard_events_in_total 2\b/.test(m.body) ? m : null;
    }, 'metrics counting both events');
    expect(metrics.type).toContain('text/plain');
    expect(metrics.body).toMatch(/^logyard_drain_buffered\{drain="m1"\} 2$/m);
    expect(metrics.body).toMatch(/^logyard_drain_up\{drain="m1",state="RETRYING"\} 0$/m);

    // A second core on the same machine and status port still starts; it warns once.
    await second.startCore(['--status', `127.0.0.1:${port}`]);
    await until(() => /WARN status: cannot listen on 127\.0\.0\.1:\d+/.test(second.coreLog), 'the warning');
    expect((await second.status()).node_id).toBe('status-b');
    expect((await get(port, '/status')).body).toContain('"status-a"');
  });
});
