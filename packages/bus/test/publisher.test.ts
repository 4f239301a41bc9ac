import { afterEach, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Pull, XPublisher } from 'zeromq';
import { corePaths, decodeBatch, Publisher, Subscriber, WIRE_MAGIC } from '../src/index.js';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function runDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'ly-bus-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** A stand-in for the core's receiving socket: a real ZeroMQ PULL socket. */
async function receiver(dir: string) {
  const pull = new Pull();
  await pull.bind(corePaths(dir).publishEndpoint);
  cleanups.push(() => pull.close());
  const events: Array<{ key: string; text: string }> = [];
  let batches = 0;
  void (async () => {
    try {
      for await (const [frame] of pull) {
        batches++;
        decodeBatch(frame, { event: (key, json) => events.push({ key, text: JSON.parse(json).text }), malformed: () => {} });
      }
    } catch {
      // closed
    }
  })();
  return { events, batches: () => batches };
}

async function until(cond: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('Publisher', () => {
  it('delivers events in order, many per batch', async () => {
    const dir = runDir();
    const rx = await receiver(dir);
    const pub = new Publisher({ runDir: dir, nodeId: 'n1' });
    cleanups.push(() => pub.close());
    expect(await pub.waitConnected(2000)).toBe(true);
    for (let i = 0; i < 5000; i++) pub.publish('systail.test', `line ${i}`);
    await until(() => rx.events.length === 5000);
    expect(rx.events.map((e) => e.text)).toEqual(Array.from({ length: 5000 }, (_, i) => `line ${i}`));
    expect(rx.batches()).toBeLessThan(50);
    expect(pub.stats()).toMatchObject({ published: 5000, sent: 5000, dropped: { queue_full: 0 } });
  });

  it('never throws or blocks without a core: it counts drops and says so in-band once a core appears', async () => {
    const dir = runDir();
    const pub = new Publisher({ runDir: dir, nodeId: 'n1', maxQueuedEvents: 100 });
    cleanups.push(() => pub.close(100));
    let accepted = 0;
    for (let i = 0; i < 250; i++) if (pub.publish('app.x', `e${i}`)) accepted++;
    expect(accepted).toBe(100);
    expect(pub.stats().dropped.queue_full).toBe(150);

    const rx = await receiver(dir);
    await until(() => rx.events.length === 101);
    expect(rx.events[0]).toMatchObject({ key: 'app.x' });
    expect(rx.events[0].text).toMatch(/^logyard: dropped 150 events since .* \(publisher queue full\)$/);
    expect(rx.events.slice(1).map((e) => e.text)).toEqual(Array.from({ length: 100 }, (_, i) => `e${i}`));
  });

  it('counts invalid keys and events without text instead of throwing', () => {
    const pub = new Publisher({ runDir: runDir(), nodeId: 'n1' });
    cleanups.push(() => pub.close(10));
    expect(pub.publish('bad key', 'x')).toBe(false);
    expect(pub.publish('ok', { notext: 1 })).toBe(false);
    expect(pub.publish('ok', { text: 'fine' })).toBe(true);
    expect(pub.stats().dropped).toEqual({ queue_full: 0, invalid_key: 1, invalid_event: 1 });
  });

  it('close() is safe to call twice', async () => {
    const pub = new Publisher({ runDir: runDir(), nodeId: 'n1' });
    await Promise.all([pub.close(10), pub.close(10)]);
    await pub.close(10);
    expect(pub.publish('a', 'after close')).toBe(false);
  });
});

describe('Subscriber', () => {
  it('receives each event once from the channels of its prefixes', async () => {
    const dir = runDir();
    const xpub = new XPublisher();
    await xpub.bind(corePaths(dir).subscribeEndpoint);
    cleanups.push(() => xpub.close());
    const sub = new Subscriber({ runDir: dir, prefixes: ['systail', 'systail.nginx', 'event'] });
    cleanups.push(() => sub.close());
    const topics: string[] = [];
    for (let i = 0; i < 2; i++) {
      const [frame] = await xpub.receive();
      topics.push(frame.toString('utf8', 1));
    }
    // "systail.nginx" is covered by "systail", so only two channels are subscribed.
    expect(topics.sort()).toEqual(['event\0', 'systail\0']);
    await xpub.send(['systail\0', `${WIRE_MAGIC}systail.nginx.n1 {"text":"a"}\nsystail.kern.n1 {"text":"b"}\n`]);
    const got: string[] = [];
    for await (const ev of sub) {
      got.push(`${ev.key} ${JSON.parse(ev.json).text}`);
      if (got.length === 2) break;
    }
    expect(got).toEqual(['systail.nginx.n1 a', 'systail.kern.n1 b']);
  });
});
