import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Dealer } from 'zeromq';
import { batchHeader, corePaths, encodeBatch, endHeader, parseAck, Publisher, wireLine } from '@logyard/bus';
import { TcpTarget, TestNode, until } from './helpers/cli.js';

const STRESS = fileURLToPath(new URL('../scripts/stress-publisher.mjs', import.meta.url));

/** One publisher process (scripts/stress-publisher.mjs --child): events "<id> <seq>" under stress.p<id>. */
function publisherProcess(runDir: string, id: string, count: number, burst: number): Promise<any> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [STRESS, '--child', runDir, id, String(count), String(burst)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (out += c));
    child.stderr.setEncoding('utf8').on('data', (c: string) => (err += c));
    child.on('close', (code) => (code === 0 ? resolve(JSON.parse(out)) : reject(new Error(`publisher ${id} exited ${code}: ${err}`))));
  });
}

/**
 * The bus end to end: real core processes, real publishers (processes and in-process), real
 * ZeroMQ sockets, a real TCP drain target. What a user sees: the core's /status counters, the
 * publisher's stats and the events at the target.
 */
describe('publisher to core delivery', () => {
  const node = new TestNode('bus-node');
  const target = new TcpTarget();

  beforeAll(async () => {
    await target.listen();
    await node.startCore();
    const r = await node.cli(['drain', 'add', 'stress', `tcp://127.0.0.1:${target.port}?filter=stress&buffer=1000000`]);
    expect(r.code).toBe(0);
    await until(async () => (await node.drainStatus('stress'))?.state === 'RUNNING', 'drain RUNNING');
  });
  afterAll(async () => {
    await target.close();
    await node.cleanup();
  });

  /** The target's events, as "<id> <seq>" texts, grouped by publisher id. */
  function arrivedById(): Map<string, number[]> {
    const by = new Map<string, number[]>();
    for (const e of target.events) {
      const [id, seq] = (e.text as string).split(' ');
      if (!by.has(id)) by.set(id, []);
      by.get(id)!.push(Number(seq));
    }
    return by;
  }

  it('gets every event of many short-lived publisher processes, exactly once, under CPU load', async () => {
    // A busy core is what lost the last batches of exiting publishers (a full receive queue when
    // the publisher hung up); a busy loop beside it makes that the common case.
    // Events already in (the audit event of a drain added before): not this test's.
    const inBefore = (await node.status()).events.in;
    const burner: ChildProcess = spawn(process.execPath, ['-e', 'for(;;){}'], { stdio: 'ignore' });
    const jobs = Array.from({ length: 24 }, (_, i) => {
      const count = 1 + ((i * 2731) % 12_000);
      // Half publish everything at once, half in small bursts (many batches, a tiny last one).
      return { id: `S${i}`, count, burst: i % 2 === 0 ? count : 40 + i * 7 };
    });
    const results: any[] = [];
    try {
      let next = 0;
      await Promise.all(
        Array.from({ length: 4 }, async () => {
          while (next < jobs.length) {
            const job = jobs[next++];
            results.push({ job, stats: await publisherProcess(node.runDir, job.id, job.count, job.burst) });
          }
        }),
      );
    } finally {
      burner.kill('SIGKILL');
    }
    const total = jobs.reduce((a, j) => a + j.count, 0);
    for (const { job, stats } of results) {
      expect(stats, job.id).toMatchObject({
        published: job.count,
        sent: job.count,
        queued: 0,
        dropped: { queue_full: 0, invalid_key: 0, invalid_event: 0, too_long: 0, unconfirmed: 0 },
      });
    }
    // `sent` means confirmed by the core: every event is already counted there.
    const status = await node.status();
    expect(status.events.in - inBefore).toBe(total);
    expect(status.events.dropped).toEqual({ lost_in_transit: 0 });
    expect(status.events.malformed).toEqual({ bad_batch: 0, bad_key: 0, bad_event: 0, too_long: 0 });
    await until(() => target.lines.length >= total, `${total} events at the target`);
    const arrived = arrivedById();
    for (const job of jobs) expect(arrived.get(job.id), job.id).toEqual(Array.from({ length: job.count }, (_, i) => i));
    expect(target.lines.length).toBe(total);
  });

  describe('when the core is killed while a publisher is sending', () => {
    let pub: Publisher;
    let before: number;

    /** Publishes `n` events "<id> <seq>" in bursts, letting the publisher send between them. */
    async function publish(id: string, n: number): Promise<void> {
      for (let i = 0; i < n; i++) {
        pub.publish(`stress.${id}`, `${id} ${i}`);
        if (i % 250 === 249) await new Promise((r) => setImmediate(r));
      }
    }

    /** Stops the core so batches pile up unconfirmed in the sockets, then kills it. */
    async function killCoreWithEventsInFlight(id: string, n: number): Promise<void> {
      const core = node.core!;
      core.kill('SIGSTOP');
      await publish(id, n);
      await until(() => pub.stats().inFlight > 0, 'batches handed to the stopped core');
      await node.stopCore('SIGKILL');
    }

    beforeAll(async () => {
      before = target.lines.length;
      pub = new Publisher({ runDir: node.runDir, nodeId: 'bus-node', maxBatchEvents: 200 });
      expect(await pub.waitConnected(5000)).toBe(true);
    });
    afterAll(async () => {
      await pub.close(100);
    });

    it('sends what the dead core did not confirm again to the restarted one: nothing is lost', async () => {
      await publish('K1', 1000);
      expect(await pub.flush(10_000)).toBe(true);
      await until(() => target.lines.length === before + 1000, 'the first 1000 events at the target');

      await killCoreWithEventsInFlight('K2', 5000);
      await node.startCore();
      await until(async () => (await node.drainStatus('stress'))?.state === 'RUNNING', 'drain RUNNING again');

      expect(await pub.flush(30_000)).toBe(true);
      expect(pub.stats()).toMatchObject({ published: 6000, sent: 6000, queued: 0, dropped: { queue_full: 0, unconfirmed: 0 } });
      // The stopped core confirmed none of them, so the new one got exactly those, once.
      expect((await node.status()).events.in).toBe(5000);
      await until(() => target.lines.length >= before + 6000, 'all 6000 events at the target');
      const arrived = arrivedById();
      expect(arrived.get('K1')).toEqual(Array.from({ length: 1000 }, (_, i) => i));
      expect(arrived.get('K2')).toEqual(Array.from({ length: 5000 }, (_, i) => i));
    });

    it('counts what it could not deliver when no core comes back, and close() still finishes', async () => {
      await killCoreWithEventsInFlight('K3', 2000);
      await pub.close(500);
      expect(pub.stats()).toMatchObject({ published: 8000, sent: 6000, queued: 0, inFlight: 0, dropped: { queue_full: 0, unconfirmed: 2000 } });
      await node.startCore();
    });
  });

  it('counts events that a publisher sent and that never arrived as lost_in_transit', async () => {
    const dealer = new Dealer({ linger: 0 });
    dealer.connect(corePaths(node.runDir).publishEndpoint);
    try {
      const events = (from: number, n: number): string =>
        encodeBatch(Array.from({ length: n }, (_, i) => wireLine('stress.gap', JSON.stringify({ text: `G ${from + i}` }))));
      const inBefore = (await node.status()).events.in;
      await dealer.send([batchHeader('gappy', 0, 3, false), events(0, 3)]);
      await dealer.send([batchHeader('gappy', 10, 2, true), events(10, 2)]); // 3..9 never arrive
      expect(parseAck((await dealer.receive())[0])).toEqual({ kind: 'batch', next: 12 });
      await dealer.send(endHeader('gappy', 15)); // nor do 12..14
      expect(parseAck((await dealer.receive())[0])).toEqual({ kind: 'end', next: 15 });
      const status = await node.status();
      expect(status.events.in - inBefore).toBe(5);
      expect(status.events.dropped).toEqual({ lost_in_transit: 10 });
      expect((await node.cli(['status'])).stdout).toMatch(/^events {4}\d+ in, .*, lost: 10 lost_in_transit$/m);
    } finally {
      dealer.close();
    }
  });
});
