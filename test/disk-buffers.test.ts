import { execFileSync } from 'node:child_process';
import { appendFileSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { TcpTarget, TestNode, until } from './helpers/cli.js';
import { freePort } from './setup/services.js';

/**
 * Disk buffers (docs/drains.md, `disk=SIZE`) through real cores: the `logyard` command, a core
 * process stopped with SIGTERM or kill -9 and started again, a real TCP target that is down, then up.
 */
const nodes: TestNode[] = [];
const targets: TcpTarget[] = [];
const mounts: string[] = [];

afterEach(async () => {
  for (const target of targets.splice(0)) await target.close();
  for (const node of nodes.splice(0)) await node.stopCore('SIGKILL');
  for (const mount of mounts.splice(0)) execFileSync('umount', [mount]);
  for (const node of nodes.splice(0)) await node.cleanup();
});

function newNode(name: string): TestNode {
  const node = new TestNode(name);
  nodes.push(node);
  return node;
}

async function target(port: number): Promise<TcpTarget> {
  const t = await new TcpTarget().listen(port);
  targets.push(t);
  return t;
}

/**
 * Publishes `event <from>` .. `event <from+count-1>` under `key` (one event per line) with one
 * `logyard publish`: the core takes them as fast as it can, a burst for the drains.
 */
async function publish(node: TestNode, key: string, from: number, count: number, pad = ''): Promise<void> {
  let input = '';
  for (let i = from; i < from + count; i++) input += `event ${i}${pad}\n`;
  const result = await node.cli(['publish', key], { input, timeoutMs: 60_000 });
  expect(result.code, result.stderr).toBe(0);
}

async function addDrain(node: TestNode, name: string, uri: string): Promise<void> {
  const result = await node.cli(['drain', 'add', name, uri]);
  expect(result.code, result.stderr).toBe(0);
}

async function waitForDrain(node: TestNode, name: string, what: string, check: (status: any) => boolean, timeoutMs = 30_000): Promise<any> {
  let last: unknown;
  return until(async () => {
    const status = await node.drainStatus(name);
    last = status;
    return status && check(status) ? status : null;
  }, `${name}: ${what}`, timeoutMs).catch((err: Error) => {
    throw new Error(`${err.message} (last status: ${JSON.stringify(last)})`);
  });
}

const texts = (from: number, count: number): string[] => Array.from({ length: count }, (_, i) => `event ${from + i}`);

function segmentsOf(node: TestNode, drain: string): string[] {
  const dir = join(node.stateDir, 'buffers', drain);
  return readdirSync(dir).filter((name) => name.endsWith('.seg')).sort().map((name) => join(dir, name));
}

describe('disk buffers', () => {
  it('100,000 events to a down target, the core SIGTERMed and restarted twice: every event arrives once, in order', { timeout: 180_000 }, async () => {
    const node = newNode('durable-node');
    const port = await freePort();
    await node.startCore();
    await addDrain(node, 'durable', `tcp://127.0.0.1:${port}?filter=app&format={{text}}&disk=64MiB&buffer=1000`);
    const chunks = [34_000, 33_000, 33_000];
    let published = 0;
    for (const [i, count] of chunks.entries()) {
      await publish(node, 'app.web', published, count);
      published += count;
      await waitForDrain(node, 'durable', `${published} buffered`, (s) => s.buffered === published);
      if (i < chunks.length - 1) {
        expect(await node.stopCore('SIGTERM')).toBe(0);
        expect(node.coreLog).not.toContain('did not finish closing in time');
        await node.startCore();
        // The queue is back before anything newer: nothing lost by the stop.
        await waitForDrain(node, 'durable', `${published} buffered after the restart`, (s) => s.buffered === published);
      }
    }
    const status = await node.drainStatus('durable');
    expect(status.disk_events).toBeGreaterThan(90_000);
    expect(status.dropped).toMatchObject({ buffer_full: 0, disk_full: 0, corrupt: 0 });
    // What users read: drain status --json, from the node's status document in the store.
    const [row] = await until(async () => {
      const rows = JSON.parse((await node.cli(['drain', 'status', 'durable', '--json'])).stdout);
      return rows[0]?.buffered === published && rows[0].disk_events > 90_000 ? rows : null;
    }, 'drain status --json with the disk counters');
    expect(row.disk_bytes).toBeGreaterThan(row.disk_events * 20);

    const up = await target(port);
    await until(() => up.lines.length >= published, 'every event at the target', 120_000);
    await new Promise((resolve) => setTimeout(resolve, 300)); // a duplicate would come right after
    expect(up.lines).toEqual(texts(0, published));
    await waitForDrain(node, 'durable', 'sent and empty', (s) => s.sent === published && s.buffered === 0 && s.disk_events === 0);
  });

  it('a 50,000-event burst into a down drain with buffer=1000: nothing dropped, every event once, in order', { timeout: 120_000 }, async () => {
    const node = newNode('burst-node');
    const port = await freePort();
    await node.startCore();
    await addDrain(node, 'bursty', `tcp://127.0.0.1:${port}?filter=app&format={{text}}&disk=64MiB&buffer=1000`);
    await waitForDrain(node, 'bursty', 'RETRYING', (s) => s.state === 'RETRYING');
    await publish(node, 'app.web', 0, 50_000);
    // Memory holds 1,000 events: the other 49,000 went to the queue as they came, none dropped.
    const held = await waitForDrain(node, 'bursty', 'every event on disk', (s) => s.disk_events === 50_000);
    expect(held).toMatchObject({ buffered: 50_000, dropped: { buffer_full: 0, disk_full: 0, corrupt: 0 } });

    const up = await target(port);
    await until(() => up.lines.length >= 50_000, 'every event at the target', 60_000);
    await new Promise((resolve) => setTimeout(resolve, 300)); // a duplicate would come right after
    expect(up.lines).toEqual(texts(0, 50_000));
    await waitForDrain(node, 'bursty', 'sent and empty', (s) => s.sent === 50_000 && s.buffered === 0 && s.disk_events === 0);
  });

  it('kill -9 once disk_sync has passed loses nothing: after a restart every event arrives (repeats counted)', async () => {
    const node = newNode('killed-node');
    const port = await freePort();
    await node.startCore();
    await addDrain(node, 'survivor', `tcp://127.0.0.1:${port}?filter=app&format={{text}}&disk=16MiB&buffer=10000`);
    await publish(node, 'app.web', 0, 10_000);
    // Below the spill point (half of buffer), yet on disk within disk_sync (1 s).
    await waitForDrain(node, 'survivor', 'all on disk', (s) => s.disk_events === 10_000);
    await new Promise((resolve) => setTimeout(resolve, 1_500)); // disk_sync passes
    await node.stopCore('SIGKILL');
    await node.startCore();
    const up = await target(port);
    await until(() => up.lines.length >= 10_000, 'every event after the kill', 60_000);
    await new Promise((resolve) => setTimeout(resolve, 300));
    const unique = [...new Set(up.lines)];
    console.log(`kill -9 test: ${up.lines.length - unique.length} repeated events`);
    expect(unique).toEqual(texts(0, 10_000));
  });

  it('a flipped byte and random bytes in the queue: buffer check exits 1, the core starts, the rest is delivered, corrupt counted', async () => {
    const node = newNode('corrupt-node');
    const port = await freePort();
    await node.startCore();
    await addDrain(node, 'damaged', `tcp://127.0.0.1:${port}?filter=app&format={{text}}&disk=16MiB&buffer=1000`);
    await publish(node, 'app.web', 0, 20_000, ` ${'x'.repeat(150)}`);
    await waitForDrain(node, 'damaged', 'all on disk', (s) => s.disk_events === 20_000);
    expect(await node.stopCore('SIGTERM')).toBe(0);

    const healthy = await node.cli(['buffer', 'check']);
    expect(healthy.code, healthy.stderr).toBe(0);
    const segments = segmentsOf(node, 'damaged');
    expect(segments.length).toBeGreaterThan(2);
    const bytes = segments.reduce((sum, path) => sum + statSync(path).size, 0);
    expect(healthy.stdout.split('\n')[0]).toMatch(/^NAME +SEGMENTS +EVENTS +BYTES +CORRUPT$/);
    expect(healthy.stdout.split('\n')[1].split(/ +/)).toEqual(['damaged', String(segments.length), '20000', String(bytes), '0']);

    const oldest = readFileSync(segments[0]);
    oldest[10_000] ^= 0x5a;
    writeFileSync(segments[0], oldest);
    appendFileSync(segments.at(-1) as string, Buffer.from([0x13, 0x37, 0xde, 0xad, 0xbe, 0xef, 0x00, 0x42, 0x99]));
    const damaged = await node.cli(['buffer', 'check', 'damaged']);
    expect(damaged.code).toBe(1);
    expect(damaged.stdout).toMatch(/^damaged +\d+ +19999 +\d+ +2$/m);
    expect(damaged.stderr).toContain('2 corrupt records');
    const unknown = await node.cli(['buffer', 'check', 'damaged', 'nosuch']);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain(`logyard: no disk queue for drain nosuch in ${join(node.stateDir, 'buffers')}`);
    const badName = await node.cli(['buffer', 'check', '../etc']);
    expect(badName.code).toBe(2);
    expect(badName.stdout).toBe('');

    await node.startCore();
    const up = await target(port);
    await until(() => up.lines.length >= 19_999, 'the rest delivered', 60_000);
    const got = up.lines.filter((line) => !line.startsWith('logyard:'));
    expect(got.length).toBe(19_999);
    expect(new Set(got).size).toBe(19_999);
    expect(got.at(-1)).toBe(`event 19999 ${'x'.repeat(150)}`);
    const status = await waitForDrain(node, 'damaged', 'corrupt counted', (s) => s.dropped.corrupt === 2);
    expect(status.state).toBe('RUNNING');
    expect(up.lines.some((line) => /^logyard: dropped 1 events for drain damaged since .* \(corrupt\)$/.test(line))).toBe(true);
  });

  it('a 16 MiB queue overfilled stays within its size, counts disk_full, and the notice arrives before the survivors', { timeout: 120_000 }, async () => {
    const node = newNode('full-node');
    const port = await freePort();
    await node.startCore();
    await addDrain(node, 'bounded', `tcp://127.0.0.1:${port}?filter=app&format={{text}}&disk=16MiB&buffer=1000`);
    const pad = ` ${'y'.repeat(400)}`;
    const total = 60_000;
    for (let from = 0; from < total; from += 20_000) await publish(node, 'app.web', from, 20_000, pad);
    const full = await waitForDrain(node, 'bounded', 'all counted', (s) => s.buffered + s.dropped.disk_full === total && s.disk_events === s.buffered && s.dropped.disk_full > 0);
    const onDisk = segmentsOf(node, 'bounded').reduce((sum, path) => sum + statSync(path).size, 0);
    expect(onDisk).toBeLessThanOrEqual(16 * 1024 * 1024);
    expect(full.disk_bytes).toBeLessThanOrEqual(16 * 1024 * 1024);

    const up = await target(port);
    await until(() => up.lines.length >= full.buffered + 1, 'the survivors and the notice', 60_000).catch(async (err) => {
      throw new Error(`${err.message}: ${up.lines.length} lines, ${JSON.stringify(await node.drainStatus('bounded'))}`);
    });
    const [notice, ...survivors] = up.lines;
    expect(notice).toMatch(new RegExp(`^logyard: dropped ${full.dropped.disk_full} events for drain bounded since .* \\(disk full\\)$`));
    const first = total - survivors.length;
    expect(survivors).toEqual(texts(first, survivors.length).map((text) => text + pad));
  });

  it('the queue on a full tmpfs: the drain goes on in memory with "disk: ENOSPC", a second drain keeps every event, room again: back on disk', async () => {
    const node = newNode('cramped-node');
    const buffers = join(node.stateDir, 'buffers');
    mkdirSync(buffers, { recursive: true });
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=512k', 'tmpfs', buffers]);
    mounts.push(buffers);
    const [diskPort, plainPort] = [await freePort(), await freePort()];
    await node.startCore();
    await addDrain(node, 'cramped', `tcp://127.0.0.1:${diskPort}?filter=app&format={{text}}&disk=16MiB&buffer=100000`);
    await addDrain(node, 'plain', `tcp://127.0.0.1:${plainPort}?filter=app&format={{text}}&buffer=100000`);
    await publish(node, 'app.web', 0, 20_000, ` ${'z'.repeat(100)}`);
    const failing = await waitForDrain(node, 'cramped', 'disk: ENOSPC', (s) => /^disk: ENOSPC/.test(s.error ?? ''));
    expect(failing.state).toBe('RETRYING');
    await waitForDrain(node, 'cramped', 'every event held', (s) => s.buffered === 20_000);
    await waitForDrain(node, 'plain', 'every event held', (s) => s.buffered === 20_000 && s.dropped.buffer_full === 0);
    expect((await node.status()).pid).toBe(node.core?.pid);

    execFileSync('mount', ['-o', 'remount,size=64m', buffers]);
    await publish(node, 'app.web', 20_000, 1_000, ` ${'z'.repeat(100)}`);
    await waitForDrain(node, 'cramped', 'back on disk', (s) => !/disk:/.test(s.error ?? '') && s.disk_events === 21_000);

    const [upDisk, upPlain] = [await target(diskPort), await target(plainPort)];
    await until(() => upDisk.lines.length >= 21_000 && upPlain.lines.length >= 21_000, 'both drains deliver', 60_000);
    const all = texts(0, 21_000).map((text) => `${text} ${'z'.repeat(100)}`);
    expect(upDisk.lines).toEqual(all);
    expect(upPlain.lines).toEqual(all);
  });
});
