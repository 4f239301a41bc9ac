import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import { startRedis, type RunningService } from '../../../test/setup/services.js';
import { closeDrains, eventJson, makeDrain, unusedPort, waitFor, waitForState } from './helpers.js';

const redisPort = inject('redisPort');
/** Each test uses its own keys, so tests sharing the one redis-server do not meet. */
const run = `t${process.pid}`;
const readers: Redis[] = [];

function reader(db = 0): Redis {
  const client = new Redis({ host: '127.0.0.1', port: redisPort, db });
  readers.push(client);
  return client;
}

let db0: Redis;
beforeAll(() => {
  db0 = reader();
});
afterEach(closeDrains);
afterAll(async () => {
  await Promise.all(readers.map((client) => client.quit()));
});

function texts(values: string[]): string[] {
  return values.map((value) => JSON.parse(value).text);
}

describe('redis drain', () => {
  it('keeps the newest `limit` events per key, newest first', async () => {
    const key = `apptail.${run}.limit`;
    const drain = makeDrain('recent', `redis://127.0.0.1:${redisPort}/?limit=5`);
    drain.start();
    await waitForState(drain, 'RUNNING');
    for (let i = 1; i <= 12; i++) drain.push(key, eventJson(`event ${i}`));
    await waitFor('12 sent', () => drain.status().sent === 12, undefined, drain);
    expect(texts(await db0.lrange(key, 0, -1))).toEqual(['event 12', 'event 11', 'event 10', 'event 9', 'event 8']);
  });

  it('pushes each event to the list of its own key', async () => {
    const [a, b] = [`apptail.${run}.a`, `apptail.${run}.b`];
    const drain = makeDrain('per-key', `redis://127.0.0.1:${redisPort}`);
    drain.start();
    drain.push(a, eventJson('a1'));
    drain.push(b, eventJson('b1'));
    drain.push(a, eventJson('a2'));
    await waitFor('3 sent', () => drain.status().sent === 3, undefined, drain);
    expect(texts(await db0.lrange(a, 0, -1))).toEqual(['a2', 'a1']);
    expect(texts(await db0.lrange(b, 0, -1))).toEqual(['b1']);
  });

  it('honours the key param and the format', async () => {
    const key = `cloud_events.${run}`;
    const drain = makeDrain('events', `redis://127.0.0.1:${redisPort}?key=${key}&limit=10&format={{key}}:%20{{text}}`);
    drain.start();
    drain.push('event.one', eventJson('first'));
    drain.push('event.two', eventJson('second'));
    await waitFor('2 sent', () => drain.status().sent === 2, undefined, drain);
    expect(await db0.lrange(key, 0, -1)).toEqual(['event.two: second', 'event.one: first']);
    expect(await db0.exists('event.one', 'event.two')).toBe(0);
  });

  it('selects the database from the /N path or the database param', async () => {
    const key = `apptail.${run}.db`;
    const byPath = makeDrain('db-path', `redis://127.0.0.1:${redisPort}/3`);
    const byParam = makeDrain('db-param', `redis://127.0.0.1:${redisPort}?database=4`);
    byPath.start();
    byParam.start();
    byPath.push(key, eventJson('in 3'));
    byParam.push(key, eventJson('in 4'));
    await waitFor('both sent', () => byPath.status().sent === 1 && byParam.status().sent === 1);
    expect(texts(await reader(3).lrange(key, 0, -1))).toEqual(['in 3']);
    expect(texts(await reader(4).lrange(key, 0, -1))).toEqual(['in 4']);
    expect(await db0.exists(key)).toBe(0);
  });

  it('is RETRYING with the reason when redis is unreachable', async () => {
    const port = await unusedPort();
    const drain = makeDrain('no-redis', `redis://127.0.0.1:${port}`);
    drain.start();
    const status = await waitForState(drain, 'RETRYING');
    expect(status.error).toBe(`connect ECONNREFUSED 127.0.0.1:${port}`);
  });

  it('is RETRYING with redis’ answer when authentication fails, the password hidden in the status', async () => {
    const drain = makeDrain('bad-auth', `redis://someone:hunter2@127.0.0.1:${redisPort}`);
    drain.start();
    const status = await waitForState(drain, 'RETRYING');
    expect(status.error).toBe('WRONGPASS invalid username-password pair or user is disabled.');
    expect(status.uri).toBe(`redis://someone:***@127.0.0.1:${redisPort}`);
    expect(JSON.stringify(status)).not.toContain('hunter2');
  });

  it('keeps events while redis restarts and delivers them, in order, when it is back', async () => {
    const first = await startRedis();
    const port = first.port;
    // The redis-server running now, if any (the helper's stop() must be called once per server).
    let running: RunningService | undefined = first;
    try {
      const key = `apptail.${run}.restart`;
      const drain = makeDrain('restart', `redis://127.0.0.1:${port}`);
      drain.start();
      drain.push(key, eventJson('before'));
      await waitFor('the first event', () => drain.status().sent === 1, undefined, drain);
      await first.stop();
      running = undefined;
      await waitForState(drain, 'RETRYING');
      drain.push(key, eventJson('while down 1'));
      drain.push(key, eventJson('while down 2'));

      running = await startRedis(port);
      await waitFor('the waiting events', () => drain.status().sent === 3, 20_000, drain);
      const client = new Redis({ host: '127.0.0.1', port });
      const values = await client.lrange(key, 0, -1);
      await client.quit();
      // The restarted server is empty (no persistence): it holds exactly what waited.
      expect(texts(values)).toEqual(['while down 2', 'while down 1']);
    } finally {
      await closeDrains();
      await running?.stop();
    }
  });
});
