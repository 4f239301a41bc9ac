import { afterAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { request } from 'node:http';
import { promisify } from 'node:util';
import { TestNode, until } from './helpers/cli.js';
import { NodeProcess } from './helpers/clients.js';
import { freePort } from './setup/services.js';

const run = promisify(execFile);

/** Runs the real `promtool check metrics` (Debian's prometheus package) on a scrape; returns its complaints. */
async function promtoolCheck(body: string): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    const child = execFile('promtool', ['check', 'metrics'], (err, stdout, stderr) =>
      resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, output: stdout + stderr }),
    );
    child.stdin!.end(body);
  });
}

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
      // The two published, and the audit event of the drain add (event.logyard_audit).
      return /logyard_events_in_total 3\b/.test(m.body) ? m : null;
    }, 'metrics counting the three events');
    expect(metrics.type).toContain('text/plain');
    expect(metrics.body).toMatch(/^logyard_drain_buffered\{drain="m1"\} 2$/m);
    expect(metrics.body).toMatch(/^logyard_drain_up\{drain="m1"\} 0$/m);

    // A second core on the same machine and status port still starts; it warns once.
    await second.startCore(['--status', `127.0.0.1:${port}`]);
    await until(() => /WARN status: cannot listen on 127\.0\.0\.1:\d+/.test(second.coreLog), 'the warning');
    expect((await second.status()).node_id).toBe('status-b');
    expect((await get(port, '/status')).body).toContain('"status-a"');
  });

  it('/metrics passes promtool: drain state as a state set, clients\' counters, the process\'s CPU and memory', async () => {
    const node = new TestNode('metrics-node');
    const receive = { proc: null as NodeProcess | null };
    try {
      const port = await freePort();
      await node.startCore(['--status', `127.0.0.1:${port}`]);
      await node.cli(['drain', 'add', 'down', 'tcp://127.0.0.1:9?filter=nothing']);
      receive.proc = new NodeProcess(node, ['receive', '--syslog', 'udp://127.0.0.1:0', '--json', 'udp://127.0.0.1:0']);
      await receive.proc.logged(/json listening on udp:\/\/127\.0\.0\.1:\d+/);
      const portOf = (kind: string): string => new RegExp(`${kind} listening on udp://127\\.0\\.0\\.1:(\\d+)`).exec(receive.proc!.log)![1];
      // util-linux logger: one good syslog message, and one to the JSON listener (not JSON there).
      await run('logger', ['--udp', '--server', '127.0.0.1', '--port', portOf('syslog'), '-t', 'metrics', 'hello']);
      await run('logger', ['--udp', '--server', '127.0.0.1', '--port', portOf('json'), '-t', 'metrics', 'not json']);

      const body = await until(async () => {
        const m = (await get(port, '/metrics')).body;
        return /^logyard_client_received_total\{client="receive"\} 2$/m.test(m) && /^logyard_drain_state\{drain="down",state="RETRYING"\} 1$/m.test(m) ? m : null;
      }, 'the receive counters and the drain RETRYING in /metrics');

      const checked = await promtoolCheck(body);
      expect(checked.output).toBe('');
      expect(checked.code).toBe(0);

      // One series per state: 1 for the current one, 0 for the others.
      for (const state of ['STARTING', 'RUNNING', 'FATAL', 'STOPPED']) expect(body).toMatch(new RegExp(`^logyard_drain_state\\{drain="down",state="${state}"\\} 0$`, 'm'));
      expect(body).toMatch(/^logyard_client_up\{client="receive"\} 1$/m);
      expect(body).toMatch(/^logyard_client_malformed_total\{client="receive",reason="invalid_json"\} 1$/m);
      expect(body).toMatch(/^logyard_client_kernel_drops_total\{client="receive"\} 0$/m);
      expect(body).toMatch(/^logyard_client_rate_limited_total\{client="receive"\} 0$/m);
      expect(body).toMatch(/^process_cpu_seconds_total \d/m);
      expect(body).toMatch(/^process_resident_memory_bytes \d+$/m);
    } finally {
      await receive.proc?.stop();
      await node.cleanup();
    }
  });
});
