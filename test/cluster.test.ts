import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Etcd3 } from 'etcd3';
import { Publisher } from '@logyard/bus';
import { TcpTarget, TestNode, until } from './helpers/cli.js';
import { etcdctl, freePort, startEtcd, TcpProxy, type RunningEtcd } from './setup/services.js';

/**
 * A cluster (issue 3): one real etcd and three real cores, driven by the real `logyard` command.
 * This file starts its own etcd, since it kills, restarts and compacts it. Node c reaches etcd
 * through a TCP proxy, so that its connection alone can be cut.
 */
describe('a cluster of three nodes on etcd', () => {
  let etcd: RunningEtcd;
  let proxy: TcpProxy;
  let admin: Etcd3;
  const nodes: TestNode[] = [];
  const targets: TcpTarget[] = [];
  const publishers: Publisher[] = [];
  let a: TestNode;
  let b: TestNode;
  let c: TestNode;

  beforeAll(async () => {
    etcd = await startEtcd();
    proxy = await new TcpProxy(etcd.port).listen();
    admin = new Etcd3({ hosts: etcd.endpoint });
    a = new TestNode('node-a', etcd.uri);
    b = new TestNode('node-b', etcd.uri);
    c = new TestNode('node-c', `etcd://127.0.0.1:${proxy.port}`);
    nodes.push(a, b, c);
    await Promise.all(nodes.map((n) => n.startCore()));
  });

  afterAll(async () => {
    for (const p of publishers) await p.close();
    for (const t of targets) await t.close();
    await Promise.all(nodes.map((n) => n.cleanup()));
    admin?.close();
    await proxy?.close();
    await etcd?.stop();
  });

  async function target(): Promise<TcpTarget> {
    const t = await new TcpTarget().listen();
    targets.push(t);
    return t;
  }

  function publisher(node: TestNode): Publisher {
    const p = new Publisher({ runDir: node.runDir, nodeId: node.nodeId });
    publishers.push(p);
    return p;
  }

  async function runningEverywhere(name: string, uri?: string): Promise<void> {
    await until(async () => {
      for (const n of nodes) {
        const d = await n.drainStatus(name);
        if (!d || d.state !== 'RUNNING' || (uri && !d.uri?.includes(uri))) return false;
      }
      return true;
    }, `drain ${name} RUNNING on every node`);
  }

  /** The node ids that `t` received `text` from. */
  function sendersOf(t: TcpTarget, text: string): string[] {
    return [...new Set(t.events.filter((e) => e.text === text).map((e) => e.node_id as string))].sort();
  }

  it('runs a drain added through any node on every node, each event with its own node_id', async () => {
    const t = await target();
    const added = await b.cli(['drain', 'add', 'all', `tcp://127.0.0.1:${t.port}`, '-f', 'cluster']);
    expect(added.stderr).toBe('');
    expect(added.code).toBe(0);
    await runningEverywhere('all');
    for (const n of nodes) publisher(n).publish('cluster.web', `hello from ${n.nodeId}`);
    await until(() => nodes.every((n) => sendersOf(t, `hello from ${n.nodeId}`).includes(n.nodeId)), 'an event from every node');
    for (const n of nodes) expect(sendersOf(t, `hello from ${n.nodeId}`)).toEqual([n.nodeId]);

    const list = await a.cli(['drain', 'list']);
    expect(list.stdout).toBe(`all  tcp://127.0.0.1:${t.port}?filter=cluster\n`);
    // drain status shows every node's row, from the store.
    await until(async () => (await c.cli(['drain', 'status', 'all'])).stdout.split('\n').filter((l) => /^all\s+node-/.test(l)).length === 3, 'three status rows');
    const rows = (await c.cli(['drain', 'status', 'all', '--json'])).stdout;
    expect(JSON.parse(rows).map((r: { node_id: string; state: string }) => [r.node_id, r.state])).toEqual([
      ['node-a', 'RUNNING'],
      ['node-b', 'RUNNING'],
      ['node-c', 'RUNNING'],
    ]);
  });

  it('restarts a changed drain everywhere and stops a deleted one everywhere', async () => {
    const t2 = await target();
    expect((await c.cli(['drain', 'add', 'all', `tcp://127.0.0.1:${t2.port}`, '-f', 'cluster'])).code).toBe(0);
    await runningEverywhere('all', `:${t2.port}`);
    for (const n of nodes) publisher(n).publish('cluster.web', `moved ${n.nodeId}`);
    await until(() => nodes.every((n) => sendersOf(t2, `moved ${n.nodeId}`).includes(n.nodeId)), 'events at the new target from every node');

    const deleted = await a.cli(['drain', 'delete', 'all']);
    expect(deleted.code).toBe(0);
    await until(async () => {
      for (const n of nodes) if (await n.drainStatus('all')) return false;
      return true;
    }, 'the drain gone from every node');
    await until(async () => (await a.cli(['drain', 'status', '--json'])).stdout.trim() === '[]', 'its status gone from the store');
  });

  it('makes only a drain whose stored value is malformed FATAL', async () => {
    const t = await target();
    expect((await a.cli(['drain', 'add', 'good', `tcp://127.0.0.1:${t.port}`, '-f', 'cluster'])).code).toBe(0);
    await etcdctl(etcd.endpoint, ['put', '/logyard/drains/bad', '{"uri": tcp://oops'] );
    await until(async () => {
      for (const n of nodes) if ((await n.drainStatus('bad'))?.state !== 'FATAL') return false;
      return true;
    }, 'drain bad FATAL on every node');
    const bad = await a.drainStatus('bad');
    expect(bad.error).toContain('/logyard/drains/bad: not valid JSON');
    await runningEverywhere('good');
    for (const n of nodes) publisher(n).publish('cluster.web', `still good ${n.nodeId}`);
    await until(() => nodes.every((n) => sendersOf(t, `still good ${n.nodeId}`).length === 1), 'the good drain delivering from every node');
    await admin.delete().key('/logyard/drains/bad');
    await a.cli(['drain', 'delete', 'good']);
  });

  it('keeps delivering while etcd is down, logs the outage once, and catches up when etcd returns', async () => {
    const t = await target();
    expect((await a.cli(['drain', 'add', 'steady', `tcp://127.0.0.1:${t.port}`, '-f', 'cluster'])).code).toBe(0);
    await runningEverywhere('steady');

    await etcd.kill();
    await until(() => nodes.every((n) => n.coreLog.includes('store failing')), 'every core to notice the outage');
    // Several seconds of outage: the store keeps retrying meanwhile.
    for (let round = 0; round < 3; round++) {
      for (const n of nodes) publisher(n).publish('cluster.web', `during outage ${round} ${n.nodeId}`);
      await new Promise((r) => setTimeout(r, 1_000));
    }
    await until(
      () => [0, 1, 2].every((round) => nodes.every((n) => sendersOf(t, `during outage ${round} ${n.nodeId}`).includes(n.nodeId))),
      'delivery from every node while etcd is down',
    );
    for (const n of nodes) {
      expect(n.core?.exitCode).toBe(null);
      expect(n.coreLog.match(/store failing/g)).toHaveLength(1);
    }

    await etcd.restart();
    await until(() => nodes.every((n) => n.coreLog.includes('answering again')), 'every core to see etcd again', 20_000);
    const t2 = await target();
    expect((await b.cli(['drain', 'add', 'after', `tcp://127.0.0.1:${t2.port}`, '-f', 'cluster'])).code).toBe(0);
    await runningEverywhere('after');
    for (const n of nodes) publisher(n).publish('cluster.web', `after outage ${n.nodeId}`);
    await until(() => nodes.every((n) => sendersOf(t2, `after outage ${n.nodeId}`).includes(n.nodeId)), 'the new drain delivering from every node');
    // Status catches up: every node's row for both drains, from the store.
    await until(async () => {
      const rows = JSON.parse((await a.cli(['drain', 'status', '--json'])).stdout) as { drain: string; node_id: string }[];
      return ['after', 'steady'].every((d) => rows.filter((r) => r.drain === d).length === 3);
    }, 'every node\'s status for both drains in the store');
    for (const n of nodes) expect(n.coreLog.match(/store failing/g)).toHaveLength(1);
    await a.cli(['drain', 'delete', 'steady', 'after']);
  });

  it('converges when etcd compacted the changes it missed while cut off (it lists again)', async () => {
    const t = await target();
    expect((await a.cli(['drain', 'add', 'old', `tcp://127.0.0.1:${t.port}`, '-f', 'cluster'])).code).toBe(0);
    await runningEverywhere('old');

    const failuresBefore = c.coreLog.match(/store failing/g)?.length ?? 0;
    proxy.disconnect();
    await until(() => (c.coreLog.match(/store failing/g)?.length ?? 0) > failuresBefore, 'node c to lose etcd');
    // Changes node c cannot see, then compaction of the history it would resume from.
    expect((await a.cli(['drain', 'delete', 'old'])).code).toBe(0);
    expect((await a.cli(['drain', 'add', 'new', `tcp://127.0.0.1:${t.port}`, '-f', 'cluster'])).code).toBe(0);
    const revision = (await admin.get('/logyard/drains/new').exec()).header.revision;
    await etcdctl(etcd.endpoint, ['compaction', revision]);
    expect(await c.drainStatus('old')).toBeDefined();

    proxy.restore();
    await until(async () => !(await c.drainStatus('old')) && (await c.drainStatus('new'))?.state === 'RUNNING', 'node c to converge', 20_000);
    publisher(c).publish('cluster.web', 'after compaction');
    await until(() => sendersOf(t, 'after compaction').includes('node-c'), 'node c delivering to the new drain');
    await a.cli(['drain', 'delete', 'new']);
  });

  it('keeps no status row of drains deleted while their status was being written', async () => {
    const t = await target();
    const names = Array.from({ length: 10 }, (_, i) => `brief-${i}`);
    for (const name of names) expect((await a.cli(['drain', 'add', name, `tcp://127.0.0.1:${t.port}`, '-f', 'brief'])).code).toBe(0);
    // Deleted as soon as every node started writing them, many writes still in flight.
    await until(async () => (await statusDocuments()).filter((doc) => names.some((name) => name in doc.drains)).length === 3, 'their status from three nodes');
    expect((await a.cli(['drain', 'delete', ...names])).code).toBe(0);
    // Drains that went are written with the counters, within a few seconds.
    await until(async () => (await statusDocuments()).every((doc) => names.every((name) => !(name in doc.drains))), 'no node holding their status', 10_000);
    const rows = JSON.parse((await b.cli(['drain', 'status', '--json'])).stdout) as { drain: string }[];
    expect(rows.filter((row) => names.includes(row.drain))).toEqual([]);
  });

  /** Every node's status document, as etcdctl shows it. */
  async function statusDocuments(): Promise<Array<{ drains: Record<string, unknown> }>> {
    const out = await etcdctl(etcd.endpoint, ['get', '/logyard/status/', '--prefix', '--print-value-only']);
    return out.split('\n').filter((line) => line.startsWith('{')).map((line) => JSON.parse(line));
  }

  it('drops the node entry and status of a core killed with -9 within the lease TTL', async () => {
    const t = await target();
    expect((await a.cli(['drain', 'add', 'watched', `tcp://127.0.0.1:${t.port}`])).code).toBe(0);
    const watchedOn = async (): Promise<string[]> => {
      const rows = JSON.parse((await a.cli(['drain', 'status', 'watched', '--json'])).stdout) as { node_id: string }[];
      return rows.map((row) => row.node_id);
    };
    await until(async () => (await watchedOn()).length === 3, 'status from three nodes');
    // One status key and one node entry per node, both under the node's lease.
    expect(await admin.getAll().prefix('/logyard/status/').keys()).toEqual(['/logyard/status/node-a', '/logyard/status/node-b', '/logyard/status/node-c']);
    expect(await admin.getAll().prefix('/logyard/nodes/').keys()).toEqual(['/logyard/nodes/node-a', '/logyard/nodes/node-b', '/logyard/nodes/node-c']);
    expect(JSON.parse(await etcdctl(etcd.endpoint, ['get', '/logyard/nodes/node-a', '--print-value-only']))).toMatchObject({
      started: expect.any(Number),
      version: expect.stringMatching(/^\d+\.\d+\.\d+/),
    });

    await b.stopCore('SIGKILL');
    // The lease TTL is 10 s; etcd checks for expired leases every 500 ms.
    await until(async () => !(await admin.getAll().prefix('/logyard/nodes/').keys()).includes('/logyard/nodes/node-b'), 'node-b to vanish', 11_000);
    expect(await admin.getAll().prefix('/logyard/status/').keys()).toEqual(['/logyard/status/node-a', '/logyard/status/node-c']);
    expect(await watchedOn()).toEqual(['node-a', 'node-c']);
    expect(a.core?.exitCode).toBe(null);
    expect(c.core?.exitCode).toBe(null);
  });
});

describe('etcd that cannot be used', () => {
  it('makes drain add exit 1 within 5 s, naming the address, when nothing answers', async () => {
    const node = new TestNode('lonely', `etcd://127.0.0.1:${await freePort()}`);
    try {
      const started = Date.now();
      const result = await node.cli(['drain', 'add', 'web', 'tcp://127.0.0.1:9']);
      const elapsed = Date.now() - started;
      expect(result.code).toBe(1);
      expect(result.stderr).toMatch(new RegExp(`etcd://127\\.0\\.0\\.1:\\d+: cannot add drain web`));
      expect(result.stderr.trim().split('\n')).toHaveLength(1);
      expect(elapsed).toBeLessThan(5_000);
    } finally {
      await node.cleanup();
    }
  });
});

describe('etcd with authentication', () => {
  let etcd: RunningEtcd;
  const nodes: TestNode[] = [];

  beforeAll(async () => {
    etcd = await startEtcd();
    await etcdctl(etcd.endpoint, ['user', 'add', 'root:rootpw']);
    await etcdctl(etcd.endpoint, ['user', 'add', 'logyard:s3cret-pw']);
    await etcdctl(etcd.endpoint, ['role', 'add', 'logyard']);
    await etcdctl(etcd.endpoint, ['role', 'grant-permission', 'logyard', '--prefix=true', 'readwrite', '/logyard/']);
    await etcdctl(etcd.endpoint, ['user', 'grant-role', 'logyard', 'logyard']);
    await etcdctl(etcd.endpoint, ['auth', 'enable']);
  });

  afterAll(async () => {
    await Promise.all(nodes.map((n) => n.cleanup()));
    await etcd?.stop();
  });

  it('works with the right password, and never shows it', async () => {
    const uri = `etcd://logyard:s3cret-pw@127.0.0.1:${etcd.port}`;
    const node = new TestNode('auth-node', uri);
    nodes.push(node);
    await node.startCore();
    const t = await new TcpTarget().listen();
    try {
      expect((await node.cli(['drain', 'add', 'secret', `redis://:drainpw@127.0.0.1:${t.port}`])).code).toBe(0);
      await until(async () => (await node.drainStatus('secret')) !== undefined, 'the drain on the core');
      const list = await node.cli(['drain', 'list']);
      const status = await node.cli(['drain', 'status']);
      const json = await node.cli(['status', '--json']);
      for (const out of [list.stdout, list.stderr, status.stdout, status.stderr, json.stdout, node.coreLog]) {
        expect(out).not.toContain('s3cret-pw');
        expect(out).not.toContain('drainpw');
      }
      expect(list.stdout).toContain('redis://:***@127.0.0.1');
      expect(node.coreLog).toContain(`etcd://logyard:***@127.0.0.1:${etcd.port}`);
    } finally {
      await t.close();
    }
  });

  it('exits 1 with a clear message for a wrong password, without echoing it', async () => {
    const node = new TestNode('auth-bad', `etcd://logyard:wrong-pw@127.0.0.1:${etcd.port}`);
    nodes.push(node);
    const result = await node.cli(['drain', 'list']);
    expect(result.code).toBe(1);
    expect(result.stderr).toBe(`logyard: etcd://logyard:***@127.0.0.1:${etcd.port}: authentication failed (wrong user or password)\n`);
  });
});
