import { afterAll, describe, expect, it } from 'vitest';
import { Subscriber, type SubscribedEvent } from '@logyard/bus';
import { TestNode, until } from './helpers/cli.js';

/** `unrouted` (logyard status, GET /status, logyard_events_unrouted_total): events nobody asked for. */
describe('unrouted events', () => {
  const node = new TestNode('unrouted-node');
  afterAll(() => node.cleanup());

  it('counts an event that matched no drain and no subscription, also while a subscriber listens to other keys', async () => {
    await node.startCore();
    expect((await node.cli(['drain', 'add', 'a-drain', 'tcp://127.0.0.1:9', '-f', 'to.drain'])).code).toBe(0);
    await until(async () => (await node.drainStatus('a-drain')) !== undefined, 'the drain');
    const subscriber = new Subscriber({ runDir: node.runDir, prefixes: ['to.subscriber'] });
    const seen: SubscribedEvent[] = [];
    const reading = (async () => {
      for await (const event of subscriber) seen.push(event);
    })();
    try {
      // The core learns the subscription asynchronously: publish until the subscriber gets one.
      await until(async () => {
        await node.cli(['publish', 'to.subscriber.x', 'hello']);
        return seen.length > 0;
      }, 'the subscriber to receive');
      const before = (await node.status()).events;
      expect((await node.cli(['publish', 'to.drain.x', 'for the drain'])).code).toBe(0);
      expect((await node.cli(['publish', 'to.subscriber.y', 'for the subscriber'])).code).toBe(0);
      expect((await node.cli(['publish', 'nobody.x', 'for nobody', 'again'])).code).toBe(0);
      const after = await until(async () => {
        const e = (await node.status()).events;
        return e.in === before.in + 4 ? e : null;
      }, 'the four events in');
      expect(after.unrouted - before.unrouted).toBe(2);
    } finally {
      subscriber.close();
      await reading.catch(() => undefined);
    }
  });
});
