import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { listenForLines, type LineServer } from '../packages/drains/test/helpers.js';
import { useTestCerts } from '../packages/drains/test/tls-certs.js';
import { TestNode, until } from './helpers/cli.js';

/**
 * A TCP target that accepts connections and, while `stalled`, never reads them (its kernel buffers
 * fill and the drain's send hangs); once `reading`, it reads the connections made after that,
 * line by line. Connections of the stalled phase are never read: what they hold is not delivered.
 */
class StallingTarget {
  readonly lines: string[] = [];
  private reading = false;
  private readonly sockets = new Set<Socket>();
  private server: Server | null = null;
  port = 0;

  async listen(): Promise<this> {
    this.server = createServer((socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
      socket.on('error', () => undefined);
      if (!this.reading) {
        socket.pause();
        return;
      }
      let rest = '';
      socket.setEncoding('utf8').on('data', (chunk: string) => {
        const parts = (rest + chunk).split('\n');
        rest = parts.pop() ?? '';
        this.lines.push(...parts);
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as AddressInfo).port;
    return this;
  }

  /** From now on, new connections are read; the stalled ones are cut unread. */
  startReading(): void {
    this.reading = true;
    for (const socket of this.sockets) socket.destroy();
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}

/** `count` events of about 1 KiB on stdin of `logyard publish`: enough to stall a target that does not read. */
function manyLines(count: number): string {
  const pad = 'x'.repeat(1000);
  return Array.from({ length: count }, (_, i) => `event ${i} ${pad}`).join('\n') + '\n';
}

const NOTICE_RE = /^logyard: dropped (\d+) events for drain (\S+) since \d{4}-\d\d-\d\dT\S+ \(core stopped\)$/;

describe('a core stopped while a target is stalled (docs/drains.md: when the core stops)', () => {
  const nodes: TestNode[] = [];
  const targets: StallingTarget[] = [];
  afterEach(async () => {
    for (const target of targets.splice(0)) await target.close();
    for (const node of nodes.splice(0)) await node.cleanup();
  });

  async function stalledNode(name: string): Promise<{ node: TestNode; target: StallingTarget; held: number }> {
    const node = new TestNode(`${name}-node`);
    nodes.push(node);
    const target = await new StallingTarget().listen();
    targets.push(target);
    await node.startCore();
    expect((await node.cli(['drain', 'add', name, `tcp://127.0.0.1:${target.port}`, '-f', 'stall', 'buffer=30000'])).code).toBe(0);
    await until(async () => (await node.drainStatus(name))?.state === 'RUNNING', `drain ${name} RUNNING`);
    expect((await node.cli(['publish', 'stall.app'], { input: manyLines(20_000), timeoutMs: 60_000 })).code).toBe(0);
    // The socket is full and the rest waits in the drain's buffer (a batch hangs in flight): the counts stop moving.
    let last = '';
    const status = await until(async () => {
      const s = await node.drainStatus(name);
      const counts = `${s.sent} ${s.buffered}`;
      const settled = s.buffered > 0 && counts === last && s.sent + s.buffered < 20_000;
      last = counts;
      await new Promise((resolve) => setTimeout(resolve, 300));
      return settled ? s : null;
    }, 'the drain to hold what the target does not read', 30_000);
    return { node, target, held: status.buffered };
  }

  it('SIGTERM: exits promptly, logs the count, and the next start tells the target in-band', async () => {
    const { node, target, held } = await stalledNode('stalled');
    expect(held).toBeGreaterThan(1000);
    const t0 = Date.now();
    expect(await node.stopCore('SIGTERM')).toBe(0);
    const stopMs = Date.now() - t0;
    const logged = /core stopped with (\d+) events held in memory by drains \(stalled (\d+)\)/.exec(node.coreLog);
    expect(logged, node.coreLog).not.toBeNull();
    // What was held, plus the batch that was in flight on the stalled socket when it was cut.
    const lost = Number(logged![1]);
    expect(lost).toBeGreaterThanOrEqual(held);
    expect(lost).toBeLessThanOrEqual(held + 1000);
    expect(node.coreLog).not.toContain('did not finish closing in time');
    expect(stopMs).toBeLessThan(4500);

    target.startReading();
    await node.startCore();
    await until(() => target.lines.length > 0, 'the notice at the target').catch(async (err) => {
      throw new Error(`${err}\n${node.coreLog}\n${JSON.stringify(await node.drainStatus('stalled'))}`);
    });
    const notice = JSON.parse(target.lines[0]);
    expect(notice.text).toMatch(NOTICE_RE);
    expect(NOTICE_RE.exec(notice.text)!.slice(1, 3)).toEqual([String(lost), 'stalled']);
    expect(notice).toMatchObject({ reason: 'core_stopped', dropped: lost, drain: 'stalled' });
    expect((await node.drainStatus('stalled')).dropped).toEqual({ buffer_full: 0, core_stopped: lost });
    expect(node.coreLog).toContain(`core_stopped: ${lost} events were lost when the core last stopped (stalled ${lost})`);
    // Counted in `drain status` too (from the store, written within a second).
    await until(async () => JSON.parse((await node.cli(['drain', 'status', 'stalled', '--json'])).stdout)[0]?.dropped.core_stopped === lost, 'drain status counting core_stopped');

    // Told once: a third run has nothing to tell.
    await node.stopCore('SIGTERM');
    const seen = target.lines.length;
    await node.startCore();
    const third = await until(async () => (await node.drainStatus('stalled'))?.state === 'RUNNING' && node.drainStatus('stalled'), 'the drain running again');
    expect(third.dropped).toEqual({ buffer_full: 0 });
    expect(target.lines.length).toBe(seen);
  });

  it('kill -9: the next start tells the count of the last snapshot (at most a second old)', async () => {
    const { node, target, held } = await stalledNode('killed');
    // The snapshot is written once a second while the count changes; it has settled, so wait for the file.
    const file = join(node.stateDir, 'held-by-drains.json');
    await until(() => JSON.parse(readFileSync(file, 'utf8')).killed?.events === held, 'the snapshot of the held count');
    expect(await node.stopCore('SIGKILL')).toBeNull();

    target.startReading();
    await node.startCore();
    await until(() => target.lines.length > 0, 'the notice at the target');
    const notice = JSON.parse(target.lines[0]);
    expect(notice.text).toMatch(NOTICE_RE);
    expect(notice.dropped).toBe(held);
    expect((await node.drainStatus('killed')).dropped.core_stopped).toBe(held);
  });

  it('a torn state file is reported and does not stop the core from starting', async () => {
    const node = new TestNode('torn-node');
    nodes.push(node);
    writeFileSync(join(node.stateDir, 'held-by-drains.json'), '{"a":{"events":');
    await node.startCore();
    expect(node.coreLog).toMatch(/core_stopped: cannot read .*held-by-drains\.json \(not JSON\)/);
  });
});

describe('a drain whose URI changes keeps what it holds', () => {
  const certs = useTestCerts();
  const node = new TestNode('handover-node');
  const servers: LineServer[] = [];
  afterAll(async () => {
    for (const server of servers) await server.close();
    await node.cleanup();
  });

  it('a RETRYING TLS drain gets ca= added: the 50 events it held arrive, none dropped', async () => {
    await node.startCore();
    const target = await listenForLines(0, certs().server);
    servers.push(target);
    const uri = `tls://localhost:${target.port}`;
    expect((await node.cli(['drain', 'add', 'secure', uri, '-f', 'held'])).code).toBe(0);
    await until(async () => (await node.drainStatus('secure'))?.state === 'RETRYING', 'the drain RETRYING (CA unknown)');
    const texts = Array.from({ length: 50 }, (_, i) => `held ${i}`);
    expect((await node.cli(['publish', 'held.app', ...texts])).code).toBe(0);
    await until(async () => (await node.drainStatus('secure')).buffered === 50, '50 events held');

    expect((await node.cli(['drain', 'add', 'secure', `${uri}?ca=${certs().caFile}`, '-f', 'held'])).code).toBe(0);
    await until(() => target.lines.length === 50, 'the 50 held events at the target', 15_000);
    expect(target.lines.map((line) => JSON.parse(line).text)).toEqual(texts);
    await until(async () => (await node.drainStatus('secure')).sent === 50, 'SENT 50');
    expect((await node.drainStatus('secure')).dropped).toEqual({ buffer_full: 0 });
  });

  it('a held drain moved to another kind of target (tcp to file) counts and tells what it held', async () => {
    const deadPort = (await listenForLines().then(async (s) => (await s.close(), s))).port;
    expect((await node.cli(['drain', 'add', 'moved', `tcp://127.0.0.1:${deadPort}`, '-f', 'moved'])).code).toBe(0);
    await until(async () => (await node.drainStatus('moved'))?.state === 'RETRYING', 'the tcp drain RETRYING');
    expect((await node.cli(['publish', 'moved.app', 'a', 'b', 'c'])).code).toBe(0);
    await until(async () => (await node.drainStatus('moved')).buffered === 3, '3 events held');

    const file = join(node.filesDir, 'moved.log');
    expect((await node.cli(['drain', 'add', 'moved', `file://${file}`, '-f', 'moved'])).code).toBe(0);
    expect((await node.cli(['publish', 'moved.app', 'after'])).code).toBe(0);
    const lines = await until(() => {
      const text = (() => {
        try {
          return readFileSync(file, 'utf8');
        } catch {
          return '';
        }
      })();
      const l = text.split('\n').filter(Boolean);
      return l.length === 2 ? l : null;
    }, 'the notice and the new event in the file');
    const notice = JSON.parse(lines[0]);
    expect(notice.text).toMatch(/^logyard: dropped 3 events for drain moved since \S+ \(URI changed\)$/);
    expect(notice).toMatchObject({ reason: 'uri_changed', dropped: 3 });
    expect(JSON.parse(lines[1]).text).toBe('after');
    expect((await node.drainStatus('moved')).dropped).toEqual({ buffer_full: 0, uri_changed: 3 });
  });

  it('a drain restarted because its named format changed keeps its held events', async () => {
    const deadPort = (await listenForLines().then(async (s) => (await s.close(), s))).port;
    expect((await node.cli(['format', 'add', 'short', '{{text}}'])).code).toBe(0);
    expect((await node.cli(['drain', 'add', 'reformatted', `tcp://127.0.0.1:${deadPort}`, '-f', 'fmt', '--format', 'short'])).code).toBe(0);
    await until(async () => (await node.drainStatus('reformatted'))?.state === 'RETRYING', 'RETRYING');
    expect((await node.cli(['publish', 'fmt.app', 'one', 'two'])).code).toBe(0);
    await until(async () => (await node.drainStatus('reformatted')).buffered === 2, '2 events held');
    const since = (await node.drainStatus('reformatted')).since;
    expect((await node.cli(['format', 'add', 'short', 'v2 {{text}}'])).code).toBe(0);
    await until(async () => (await node.drainStatus('reformatted')).since !== since, 'the drain restarted');
    const target = await listenForLines(deadPort);
    servers.push(target);
    await until(() => target.lines.length === 2, 'both held events, in the new format', 20_000);
    expect(target.lines).toEqual(['v2 one', 'v2 two']);
  });
});
