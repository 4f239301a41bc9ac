import { afterEach, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Dealer, Router, XPublisher } from 'zeromq';
import { BatchReceiver, batchHeader, corePaths, decodeBatch, endHeader, encodeBatch, parseAck, Publisher, Subscriber, WIRE_MAGIC, wireLine } from '../src/index.js';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function runDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'ly-bus-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** The core's receiving end (BatchReceiver, real ZeroMQ sockets) without the rest of the core. */
async function receiver(dir: string) {
  const rx = new BatchReceiver();
  await rx.bind(corePaths(dir).publishEndpoint);
  const events: Array<{ key: string; text: string; json: string }> = [];
  let batches = 0;
  const running = rx.run(
    (batch) =>
      decodeBatch(batch, {
        event: (key, json) => events.push({ key, text: JSON.parse(json).text, json }),
        malformed: (reason, count) => {
          rx.malformed[reason] += count;
        },
      }),
    () => {
      batches++;
    },
  );
  const close = async (): Promise<void> => {
    rx.close();
    await running;
  };
  cleanups.push(close);
  return { events, batches: () => batches, rx, close };
}

async function until(cond: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('Publisher', () => {
  it('delivers events in order, many per batch, and counts them sent once the core confirms them', async () => {
    const dir = runDir();
    const rx = await receiver(dir);
    const pub = new Publisher({ runDir: dir, nodeId: 'n1' });
    cleanups.push(() => pub.close());
    expect(await pub.waitConnected(2000)).toBe(true);
    for (let i = 0; i < 5000; i++) pub.publish('systail.test', `line ${i}`);
    expect(await pub.flush()).toBe(true);
    expect(rx.events.map((e) => e.text)).toEqual(Array.from({ length: 5000 }, (_, i) => `line ${i}`));
    expect(rx.batches()).toBeLessThan(50);
    expect(pub.stats()).toMatchObject({ published: 5000, sent: 5000, queued: 0, dropped: { queue_full: 0, unconfirmed: 0 } });
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
    expect(pub.stats().dropped).toEqual({ queue_full: 0, invalid_key: 1, invalid_event: 1, too_long: 0, unconfirmed: 0 });
  });

  it('splits a text line whose event would be longer than max_event, and refuses such an object', async () => {
    const dir = runDir();
    const rx = await receiver(dir);
    const pub = new Publisher({ runDir: dir, nodeId: 'n1', maxEvent: 2048 });
    cleanups.push(() => pub.close(1000));
    const text = 'start ' + 'ab"\\é\n'.repeat(2000) + ' end';
    expect(pub.publishLine('app.x', text, ',"name":"web"')).toBe(true);
    expect(pub.publish('app.y', { text: 'o'.repeat(3000) })).toBe(false);
    expect(pub.publish('app.y', 'short')).toBe(true);
    expect(await pub.flush()).toBe(true);
    const pieces = rx.events.filter((e) => e.key === 'app.x');
    expect(pieces.length).toBeGreaterThan(5);
    expect(pieces.map((e) => e.text).join('')).toBe(text);
    for (const e of pieces) {
      expect(JSON.parse(e.json)).toMatchObject({ name: 'web', node_id: 'n1' });
      expect(Buffer.byteLength(e.json)).toBeLessThanOrEqual(2048);
    }
    // The pieces of one line carry its one time (a "now" per piece could be a digit longer than
    // the one the pieces were measured with, and such a piece was refused as too long).
    expect(new Set(pieces.map((e) => JSON.parse(e.json).unix_time)).size).toBe(1);
    expect(rx.events.filter((e) => e.key === 'app.y').map((e) => e.text)).toEqual(['short']);
    expect(pub.stats()).toMatchObject({ tooLong: 2, dropped: { too_long: 1 } });
  });

  it('tells a reader to stop before its queue drops anything, by events and by bytes, and to read again once the core took them', async () => {
    const dir = runDir();
    const pub = new Publisher({ runDir: dir, nodeId: 'n1' });
    cleanups.push(() => pub.close(1000));
    // Without a core, a reader that reads while pauseReading() is false: 4 KiB events pause it
    // by bytes (at 8 MiB), long before 20,000 of them would have filled the 64 MiB queue.
    const big = 'b'.repeat(4096);
    let read = 0;
    while (!pub.pauseReading()) pub.publish('app.big', `${read++} ${big}`);
    expect(read).toBeGreaterThan(1000);
    expect(read).toBeLessThan(5000);
    expect(pub.mayReadAgain()).toBe(false);
    const rx = await receiver(dir);
    await until(() => pub.mayReadAgain());
    expect(await pub.flush()).toBe(true);
    expect(rx.events.map((e) => e.text)).toEqual(Array.from({ length: read }, (_, i) => `${i} ${big}`));
    expect(pub.stats().dropped.queue_full).toBe(0);
  });

  it('does not stop a reader for batches in flight to a core that takes them slowly, only once its queue is three quarters full', async () => {
    const dir = runDir();
    // A core that takes batches and does not confirm them (yet): the publisher's window fills.
    const core = new Router();
    await core.bind(corePaths(dir).publishEndpoint);
    cleanups.push(() => core.close());
    let taken = 0;
    void (async () => {
      try {
        for await (const _ of core) taken++;
      } catch {
        // closed
      }
    })();
    const pub = new Publisher({ runDir: dir, nodeId: 'n1' });
    cleanups.push(() => pub.close(10));
    expect(await pub.waitConnected(2000)).toBe(true);
    const text = 'x'.repeat(150);
    let read = 0;
    let inFlightWhileReading = 0;
    while (!pub.pauseReading()) {
      for (let i = 0; i < 5000; i++) pub.publish('app.x', `${read++} ${text}`);
      await new Promise((r) => setTimeout(r, 1));
      inFlightWhileReading = Math.max(inFlightWhileReading, pub.stats().inFlight);
    }
    // Well past the 20,000 events that wait to be sent at most, the reader still read.
    expect(inFlightWhileReading).toBeGreaterThan(40_000);
    expect(taken).toBeGreaterThan(10);
    expect(read).toBeGreaterThanOrEqual(75_000);
    expect(pub.stats().dropped.queue_full).toBe(0);
    expect(pub.mayReadAgain()).toBe(false);
  });

  it('close() without a core finishes and counts what it could not deliver', async () => {
    const pub = new Publisher({ runDir: runDir(), nodeId: 'n1' });
    for (let i = 0; i < 10; i++) pub.publish('app.x', `e${i}`);
    await pub.close(200);
    expect(pub.stats()).toMatchObject({ published: 10, sent: 0, queued: 0, dropped: { unconfirmed: 10 } });
  });

  it('writes batches into the buffers of batches the core confirmed, and every event arrives as published', async () => {
    const dir = runDir();
    const rx = await receiver(dir);
    // Small batches sealed full: their buffers are recycled, while later ones are in flight.
    const pub = new Publisher({ runDir: dir, nodeId: 'n1', maxBatchBytes: 4096 });
    cleanups.push(() => pub.close());
    expect(await pub.waitConnected(2000)).toBe(true);
    const texts = Array.from({ length: 20_000 }, (_, i) => `line ${i} ${'x'.repeat(i % 97)}`);
    for (let round = 0; round < 20; round++) {
      for (let i = round * 1000; i < (round + 1) * 1000; i++) pub.publish('systail.test', texts[i]);
      await new Promise((r) => setTimeout(r, round % 3));
    }
    expect(await pub.flush()).toBe(true);
    expect(rx.batches()).toBeGreaterThan(500);
    expect(rx.events.map((e) => e.text)).toEqual(texts);
  });

  it('sends what a dead core did not confirm again to the next one, which gets every event once', async () => {
    const dir = runDir();
    const endpoint = corePaths(dir).publishEndpoint;
    // A core that takes batches and dies before it confirms them: a ROUTER that never answers.
    const mute = new Router();
    await mute.bind(endpoint);
    const pub = new Publisher({ runDir: dir, nodeId: 'n1', maxBatchEvents: 100 });
    cleanups.push(() => pub.close());
    for (let i = 0; i < 3000; i++) pub.publish('app.x', `e${i}`);
    const [, header] = await mute.receive();
    expect(header.toString()).toMatch(/^LY2 B \S+ 0 100 [01] v$/); // text events: known valid (wire.ts)
    await mute.unbind(endpoint);
    mute.close();
    const rx = await receiver(dir);
    expect(await pub.flush(10_000)).toBe(true);
    expect(rx.events.map((e) => e.text)).toEqual(Array.from({ length: 3000 }, (_, i) => `e${i}`));
    expect(pub.stats()).toMatchObject({ published: 3000, sent: 3000, queued: 0, dropped: { unconfirmed: 0 } });
    await pub.close();
    expect(rx.rx.publishers).toBe(0); // it said goodbye, so the receiver forgot it
    expect(rx.rx.dropped).toEqual({ lost_in_transit: 0 });
  });

  it('close() is safe to call twice', async () => {
    const pub = new Publisher({ runDir: runDir(), nodeId: 'n1' });
    await Promise.all([pub.close(10), pub.close(10)]);
    await pub.close(10);
    expect(pub.publish('a', 'after close')).toBe(false);
  });
});

describe('BatchReceiver', () => {
  const batch = (from: number, n: number): string =>
    encodeBatch(Array.from({ length: n }, (_, i) => wireLine('app.x', JSON.stringify({ text: `e${from + i}` }))));

  /** A receiver, and a bare DEALER speaking the wire protocol to it by hand. */
  async function receiverAndDealer() {
    const dir = runDir();
    const rx = await receiver(dir);
    const dealer = new Dealer();
    cleanups.push(() => dealer.close());
    dealer.connect(corePaths(dir).publishEndpoint);
    return { rx, dealer };
  }

  it('skips a batch sent twice, counts events that never arrived as lost_in_transit, and confirms when asked', async () => {
    const { rx, dealer } = await receiverAndDealer();
    await dealer.send([batchHeader('p1', 0, 5, false), batch(0, 5)]);
    await dealer.send([batchHeader('p1', 0, 5, false), batch(0, 5)]); // sent again after a reconnect
    await dealer.send([batchHeader('p1', 8, 2, true), batch(8, 2)]); // 5..7 went missing
    expect(parseAck((await dealer.receive())[0])).toEqual({ kind: 'batch', next: 10 });
    await dealer.send(endHeader('p1', 12)); // and so did 10..11
    expect(parseAck((await dealer.receive())[0])).toEqual({ kind: 'end', next: 12 });
    expect(rx.events.map((e) => e.text)).toEqual(['e0', 'e1', 'e2', 'e3', 'e4', 'e8', 'e9']);
    expect(rx.rx.eventsIn).toBe(7);
    expect(rx.rx.dropped).toEqual({ lost_in_transit: 5 });
    expect(rx.rx.publishers).toBe(0);
  });

  it('takes a bare batch unconfirmed and counts a message it cannot read as a bad batch', async () => {
    const { rx, dealer } = await receiverAndDealer();
    await dealer.send(batch(0, 2));
    await dealer.send(['LY2 B p1 0', batch(0, 2)]);
    await dealer.send(['one', 'two', 'three']);
    await dealer.send(batch(2, 1));
    await until(() => rx.events.length === 3);
    expect(rx.events.map((e) => e.text)).toEqual(['e0', 'e1', 'e2']);
    expect(rx.rx.malformed).toEqual({ bad_batch: 2, bad_key: 0, bad_event: 0, too_long: 0 });
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
