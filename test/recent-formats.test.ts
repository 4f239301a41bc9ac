import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Redis from 'ioredis';
import { Publisher } from '@logyard/bus';
import { TcpTarget, TestNode, until } from './helpers/cli.js';

/**
 * `logyard recent`, built-in drains and named formats (issue 5), on one node: the real command,
 * a real core, a real redis-server (database 5 is this file's) and real TCP listeners.
 */
describe('recent logs, built-in drains and named formats', () => {
  const node = new TestNode('recent-node');
  const targets: TcpTarget[] = [];
  const redisPort = inject('redisPort');
  const redis = new Redis({ port: redisPort, host: '127.0.0.1', db: 5, lazyConnect: true });
  let config: string;
  let publisher: Publisher;

  beforeAll(async () => {
    await redis.connect();
    await redis.flushdb();
    config = join(node.root, 'logyard.yaml');
    writeFileSync(
      config,
      [
        'formats:',
        '  loud: "!! {{text}}"',
        'builtin_drains:',
        `  builtin.events: redis://127.0.0.1:${redisPort}/5?filter=event&limit=256&key=cloud_events`,
        '',
      ].join('\n'),
    );
    await node.startCore(['-c', config]);
    publisher = new Publisher({ runDir: node.runDir, nodeId: node.nodeId });
  });

  afterAll(async () => {
    await publisher?.close();
    for (const t of targets) await t.close();
    await node.cleanup();
    redis.disconnect();
  });

  const cli = (args: string[]) => node.cli(['-c', config, ...args]);

  async function target(): Promise<TcpTarget> {
    const t = await new TcpTarget().listen();
    targets.push(t);
    return t;
  }

  async function addDrain(name: string, uri: string, ...extra: string[]): Promise<void> {
    const r = await cli(['drain', 'add', name, uri, ...extra]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    await until(async () => (await node.drainStatus(name))?.state === 'RUNNING', `drain ${name} RUNNING`);
  }

  it('prints the 5 newest of 30 events a redis drain with limit=50 keeps, oldest first, in the stream format', async () => {
    await addDrain('apps', `redis://127.0.0.1:${redisPort}/5?filter=apptail.shop&limit=50`);
    for (let i = 1; i <= 30; i++) {
      publisher.publish('apptail.shop', { text: `order ${i}`, app_id: 'shop', source: 'stdout', instance_index: 1, human_time: `2026-11-20T10:00:${String(i).padStart(2, '0')}.000+00:00` });
    }
    await until(async () => (await redis.llen('apptail.shop')) === 30, 'the 30 events in redis');

    const recent = await cli(['recent', 'apps', '-n', '5']);
    expect(recent.stderr).toBe('');
    expect(recent.code).toBe(0);
    expect(recent.stdout.split('\n').filter(Boolean)).toEqual([26, 27, 28, 29, 30].map((i) => `2026-11-20T10:00:${i}.000+00:00 stdout.1: order ${i}`));

    const json = await cli(['recent', 'apps', '-n', '2', '--json']);
    expect(json.stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l).text)).toEqual(['order 29', 'order 30']);
    expect((await cli(['recent', 'apps'])).stdout.split('\n').filter(Boolean)).toHaveLength(30);
  });

  it('reads a built-in drain that keeps one list, in its stream format', async () => {
    await until(async () => (await node.drainStatus('builtin.events'))?.state === 'RUNNING', 'builtin.events RUNNING');
    publisher.publish('event.oom_kill', { text: 'Out of memory: killed 42', type: 'oom_kill', desc: 'process 42 killed', severity: 'ERROR' });
    publisher.publish('event.disk_full', { text: 'disk full', type: 'disk_full', desc: '/var is full', severity: 'WARNING' });
    // The audit events of the drains the other tests add (event.logyard_audit) go to this drain too.
    const published = async (): Promise<string[]> =>
      (await cli(['recent', 'builtin.events'])).stdout.split('\n').filter((line) => line !== '' && !line.startsWith('logyard_audit@'));
    await until(async () => (await published()).length === 2, 'both events in cloud_events');
    expect(await published()).toEqual(['oom_kill@recent-node: process 42 killed', 'disk_full@recent-node: /var is full']);
  });

  it('refuses recent on a drain that is not redis with exit 2, and an unknown drain with exit 1', async () => {
    const t = await target();
    await addDrain('plain', `tcp://127.0.0.1:${t.port}`);
    const notRedis = await cli(['recent', 'plain']);
    expect(notRedis.code).toBe(2);
    expect(notRedis.stderr).toBe('logyard: drain plain is a tcp drain: recent reads what a redis drain keeps\n');
    const unknown = await cli(['recent', 'nosuchdrain']);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toBe('logyard: no drain named nosuchdrain\n');
    const badCount = await cli(['recent', 'apps', '-n', 'ten']);
    expect(badCount.code).toBe(2);
    expect(badCount.stderr).toMatch(/^logyard: -n ten: must be a positive integer/);
  });

  it('refuses to delete a built-in drain with exit 2, saying why, and lists it as built in', async () => {
    const del = await cli(['drain', 'delete', 'builtin.events']);
    expect(del.code).toBe(2);
    expect(del.stderr).toMatch(/^logyard: drain builtin\.events is built in: it is defined by builtin_drains in the config/);
    expect((await cli(['drain', 'list'])).stdout).toMatch(/^builtin\.events\s+redis:\/\/\S+\s+\(built in\)$/m);
    expect((await node.drainStatus('builtin.events')).state).toBe('RUNNING');
  });

  it('uses named formats of the config and of the store, and follows changes of a stored one', async () => {
    const t = await target();
    expect((await cli(['format', 'add', 'short', '{{name}}: {{text}}'])).code).toBe(0);
    await addDrain('short-out', `tcp://127.0.0.1:${t.port}`, '-f', 'systail.fmt', '--format', 'short');
    await addDrain('loud-out', `tcp://127.0.0.1:${t.port}`, '-f', 'systail.fmt', '--format', 'loud');
    publisher.publish('systail.fmt.recent-node', { text: 'first', name: 'kern' });
    await until(() => t.lines.length === 2, 'the event in both formats');
    expect(t.lines.sort()).toEqual(['!! first', 'kern: first']);

    // A changed template restarts the drains that use it; the others keep running untouched.
    const loudSince = (await node.drainStatus('loud-out')).since;
    expect((await cli(['format', 'add', 'short', '[{{name}}] {{text}}'])).code).toBe(0);
    await until(async () => {
      publisher.publish('systail.fmt.recent-node', { text: 'probe', name: 'kern' });
      return t.lines.includes('[kern] probe');
    }, 'the new template in use');
    expect((await node.drainStatus('loud-out')).since).toBe(loudSince);

    const list = await cli(['format', 'list']);
    expect(list.stdout).toMatch(/^short\s+"\[\{\{name\}\}\] \{\{text\}\}"\s+store$/m);
    expect(list.stdout).toMatch(/^loud\s+"!! \{\{text\}\}"\s+config$/m);
    expect(list.stdout).toMatch(/^systail\s+"\{\{name\}\}@\{\{node_id\}\}: \{\{text\}\}"\s+built in$/m);
  });

  it('makes a drain whose stored format is deleted FATAL alone, and brings it back when the format returns', async () => {
    const t = await target();
    expect((await cli(['format', 'add', 'tagged', '<{{name}}> {{text}}'])).code).toBe(0);
    await addDrain('tagged-out', `tcp://127.0.0.1:${t.port}`, '-f', 'systail.tag', '--format', 'tagged');
    expect((await cli(['format', 'delete', 'tagged'])).code).toBe(0);
    await until(async () => (await node.drainStatus('tagged-out'))?.state === 'FATAL', 'the drain FATAL');
    expect((await node.drainStatus('tagged-out')).error).toMatch(/unknown format "tagged"/);
    expect((await node.drainStatus('short-out')).state).toBe('RUNNING');

    expect((await cli(['format', 'add', 'tagged', '<{{name}}> {{text}}'])).code).toBe(0);
    await until(async () => (await node.drainStatus('tagged-out'))?.state === 'RUNNING', 'the drain RUNNING again');
    publisher.publish('systail.tag.recent-node', { text: 'back', name: 'kern' });
    await until(() => t.lines.includes('<kern> back'), 'the event in the format');
  });

  it('refuses bad formats with exit 2: a broken template, a reserved name, an unknown format at drain add', async () => {
    const broken = await cli(['format', 'add', 'bad', '{{text']);
    expect(broken.code).toBe(2);
    expect(broken.stderr).toMatch(/^logyard: format "bad" \("\{\{text"\) has an unclosed "\{\{"/);
    expect((await cli(['format', 'add', 'json', '{{text}}'])).code).toBe(2);
    const unknown = await cli(['drain', 'add', 'x', 'tcp://127.0.0.1:9', '--format', 'nosuch']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/unknown format "nosuch"/);
    const missing = await cli(['format', 'delete', 'nosuch']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toBe('logyard: no format named nosuch in the store\n');
  });
});
