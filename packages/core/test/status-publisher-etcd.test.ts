import { afterAll, beforeAll, expect, it, vi } from 'vitest';
import { Etcd3 } from 'etcd3';
import type { DrainState } from '@logyard/store';
import { EtcdStore } from '@logyard/store/etcd';
import { startEtcd, type RunningEtcd } from '../../../test/setup/services.js';
import { StatusPublisher } from '../src/status-publisher.js';

/**
 * The status document through an etcd outage longer than twice the node's lease TTL, with etcd
 * killed and restarted: the node keeps its lease, and counters whose write failed meanwhile are
 * written when counters are next due, not as soon as etcd answers (at 1,000 nodes, 35 MB for etcd
 * at the moment it takes back 1,000 nodes' keepalives and watches).
 */
let etcd: RunningEtcd;
let admin: Etcd3;

beforeAll(async () => {
  etcd = await startEtcd();
  admin = new Etcd3({ hosts: etcd.endpoint });
});

afterAll(async () => {
  admin?.close();
  await etcd?.stop();
});

it('after etcd is back, counters whose write failed are written once, when counters are next due, not as soon as etcd answers', async () => {
  const store = await EtcdStore.open(etcd.uri, { nodeTtlSeconds: 2, lease: { renewSpreadMs: 200 } });
  const drains: Record<string, DrainState> = { web: { state: 'RUNNING', sent: 0, dropped: {}, buffered: 0 } };
  let written = 0;
  const failures: string[] = [];
  await store.registerNode({ node_id: 'node-a', started: 1_700_000_000, version: '1' });
  const publisher = new StatusPublisher({
    store,
    nodeId: 'node-a',
    drains: () => structuredClone(drains),
    onFailed: (err) => failures.push((err as Error).message),
    onWritten: () => written++,
    countersEveryMs: 12_000,
    counterBytesPerSecond: 1e9,
  });
  // Events flow: the counters move all the time.
  const flow = setInterval(() => (drains.web = { ...drains.web, sent: (drains.web.sent ?? 0) + 1 }), 100);
  try {
    await vi.waitFor(() => expect(written).toBe(1), { timeout: 2_000 });
    const beforeOutage = Number((await admin.get('/logyard/none').exec()).header.revision);
    await etcd.kill();
    // Past twice the TTL (etcd keeps the lease through its restart) and past the counters' interval (their write fails).
    await vi.waitFor(() => expect(failures.length).toBeGreaterThan(0), { timeout: 15_000 });
    const failedAt = Date.now();
    await new Promise((r) => setTimeout(r, 500));
    const failedSent = drains.web.sent!;
    await etcd.restart();
    const puts: number[] = [];
    // Every put since etcd went away, even one made before this watch is created.
    const watcher = await admin.watch().key('/logyard/status/node-a').startRevision(String(beforeOutage + 1)).create();
    watcher.on('put', (kv) => puts.push(JSON.parse(kv.value.toString()).drains.web.sent));
    // Counters are next due 12 s after the failed write: written then, once, with the counters of that moment.
    await vi.waitFor(() => expect(puts).toHaveLength(1), { timeout: 16_000 });
    expect(Date.now() - failedAt).toBeGreaterThanOrEqual(11_000);
    await new Promise((r) => setTimeout(r, 3_000));
    await watcher.cancel();
    expect(puts).toHaveLength(1);
    expect(puts[0]).toBeGreaterThan(failedSent);
  } finally {
    clearInterval(flow);
    await publisher.close();
    await store.close();
  }
}, 60_000);
