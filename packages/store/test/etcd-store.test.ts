import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { Etcd3 } from 'etcd3';
import { etcdctl, startEtcd, TcpProxy, type RunningEtcd } from '../../../test/setup/services.js';
import type { DrainRecord, Store, StoreError } from '../src/index.js';
import { EtcdStore, type EtcdStoreOptions, type WatchRead } from '../src/etcd-store.js';
import { EtcdConnection } from '../src/etcd-connection.js';
import { clientOptions } from '../src/etcd-client.js';
import { parseEtcdUri } from '../src/etcd-uri.js';
import { WatchStream, type WatchEnd } from '../src/etcd-watch-stream.js';
import { changedNames, drainList, nodeStatus, RUNNING, uris } from './helpers.js';

/**
 * What only the etcd store has: leases, watch revisions, paged reads. This file starts its own
 * etcd, since it cuts connections to it and compacts it; the contract test holds what both stores
 * share. Keys are checked with etcdctl, as an admin would see them.
 */
describe('the etcd store', () => {
  let etcd: RunningEtcd;
  let proxy: TcpProxy;
  let admin: Etcd3;
  const stores: Store[] = [];

  beforeAll(async () => {
    etcd = await startEtcd();
    proxy = await new TcpProxy(etcd.port).listen();
    admin = new Etcd3({ hosts: etcd.endpoint });
  });

  beforeEach(async () => {
    await admin.delete().prefix('/logyard/');
  });

  afterEach(async () => {
    proxy.restore();
    await Promise.all(stores.splice(0).map((store) => store.close()));
  });

  afterAll(async () => {
    admin?.close();
    await proxy?.close();
    await etcd?.stop();
  });

  async function open(uri = etcd.uri, options: EtcdStoreOptions = {}): Promise<EtcdStore> {
    const store = await EtcdStore.open(uri, options);
    stores.push(store);
    return store;
  }

  /** A connection as a store makes it (its deadlines, reconnects and fault handling). */
  async function connect(uri: string): Promise<EtcdConnection> {
    return new EtcdConnection(await clientOptions(parseEtcdUri(uri), 3_500));
  }

  async function get(key: string): Promise<string> {
    return (await etcdctl(etcd.endpoint, ['get', key, '--print-value-only'])).trim();
  }

  /** The lease a key is under (0: none), exactly: etcdctl's JSON has it as a number past 2^53. */
  async function leaseOf(key: string): Promise<string> {
    return (await admin.get(key).exec()).kvs[0]?.lease ?? '0';
  }

  describe('layout (docs/store.md)', () => {
    it('keeps a node entry {"started","version"} and one status document per node, both under the node\'s lease', async () => {
      const store = await open();
      await store.registerNode({ node_id: 'node-a', started: 1_700_000_000, version: '1.2.3' });
      const idle = { state: 'RUNNING', sent: 0, dropped: {}, buffered: 0 };
      const drains = { web: { ...RUNNING, buffered: 7 }, archive: { ...RUNNING, state: 'FATAL', error: 'bad URI' }, idle };
      await store.putNodeStatus(nodeStatus('node-a', drains));

      expect(JSON.parse(await get('/logyard/nodes/node-a'))).toEqual({ started: 1_700_000_000, version: '1.2.3' });
      // The state RUNNING, nothing sent, no drops and nothing buffered are left out of the document,
      // and read back as such.
      const { buffered: _, ...archive } = drains.archive;
      expect(JSON.parse(await get('/logyard/status/node-a'))).toEqual({
        updated: 1_700_000_000,
        drains: { web: { sent: 12, dropped: { buffer_full: 3 }, buffered: 7 }, archive, idle: {} },
      });
      expect(await store.listNodeStatus()).toEqual([nodeStatus('node-a', drains)]);
      const lease = await leaseOf('/logyard/nodes/node-a');
      expect(lease).not.toBe('0');
      expect(await leaseOf('/logyard/status/node-a')).toBe(lease);
      // One key per node, whatever the number of drains.
      expect(await admin.getAll().prefix('/logyard/status/').keys()).toEqual(['/logyard/status/node-a']);

      await store.close();
      expect(await admin.getAll().prefix('/logyard/').keys()).toEqual([]);
    });

    it('reads the status node by node, page by page: 1,100 nodes, and documents that together pass gRPC\'s 4 MiB', async () => {
      // Written as the nodes' cores would, without the store: 1,100 small documents (more than a page
      // of keys) and five of about 1 MB each (one read of them all would be refused).
      const small = JSON.stringify({ updated: 1_700_000_000, drains: { web: RUNNING } });
      const names = Array.from({ length: 1_100 }, (_, i) => `node-${String(i).padStart(4, '0')}`);
      for (let i = 0; i < names.length; i += 100) {
        await Promise.all(names.slice(i, i + 100).map((name) => admin.put(`/logyard/status/${name}`).value(small)));
      }
      const manyDrains = Object.fromEntries(Array.from({ length: 12_000 }, (_, i) => [`drain-${i}`, { ...RUNNING, sent: i }]));
      const big = JSON.stringify({ updated: 1_700_000_000, drains: manyDrains });
      expect(big.length).toBeGreaterThan(900_000);
      for (const name of ['big-1', 'big-2', 'big-3', 'big-4', 'big-5']) await admin.put(`/logyard/status/${name}`).value(big);
      // A client of its own: the refusal opens its circuit breaker.
      const oneRead = new Etcd3({ hosts: etcd.endpoint });
      await expect(oneRead.getAll().prefix('/logyard/status/').exec()).rejects.toThrow(/RESOURCE_EXHAUSTED|larger than max/i);
      oneRead.close();

      const nodes = await (await open()).listNodeStatus();
      expect(nodes).toHaveLength(1_105);
      expect(nodes.slice(0, 5).map((node) => [node.node_id, Object.keys(node.drains).length])).toEqual([
        ['big-1', 12_000],
        ['big-2', 12_000],
        ['big-3', 12_000],
        ['big-4', 12_000],
        ['big-5', 12_000],
      ]);
      expect(nodes.at(-1)).toEqual(nodeStatus('node-1099'));
    });

    it('reads a status document again when its request fails, so that a brief cut does not fail the whole read', async () => {
      const writer = await open();
      await writer.registerNode({ node_id: 'node-a', started: 1_700_000_000, version: '0.1.0' });
      await writer.putNodeStatus({ node_id: 'node-a', updated: 1_700_000_001, drains: {} });
      const reader = await open(`etcd://127.0.0.1:${proxy.port}`);
      expect(await reader.listNodeStatus()).toHaveLength(1);
      proxy.disconnect();
      const reading = reader.listNodeStatus();
      setTimeout(() => proxy.restore(), 100);
      expect((await reading).map((node) => node.node_id)).toEqual(['node-a']);
    });

    it('skips a status document another tool wrote badly, and an entry of the older per-drain layout', async () => {
      const store = await open();
      await store.registerNode({ node_id: 'node-a', started: 1_700_000_000, version: '1.2.3' });
      await store.putNodeStatus(nodeStatus('node-a'));
      await etcdctl(etcd.endpoint, ['put', '/logyard/status/node-b', 'not json']);
      await etcdctl(etcd.endpoint, ['put', '/logyard/status/web/node-c', JSON.stringify({ state: 'RUNNING' })]);
      await etcdctl(etcd.endpoint, ['put', '/logyard/status/node-d', JSON.stringify({ updated: 1, drains: { ok: RUNNING, bad: 'RUNNING' } })]);
      expect(await store.listNodeStatus()).toEqual([nodeStatus('node-a'), { node_id: 'node-d', updated: 1, drains: { ok: RUNNING } }]);
    });
  });

  describe("a node's lease and put budget", () => {
    /** Every value `key` took, as an admin watching it sees them, with when each arrived. */
    async function history(key: string): Promise<{ values: Array<{ value: string; at: number }>; close: () => Promise<void> }> {
      const values: Array<{ value: string; at: number }> = [];
      const watcher = await admin.watch().key(key).create();
      watcher.on('put', (kv) => values.push({ value: kv.value.toString(), at: Date.now() }));
      return { values, close: () => watcher.cancel() };
    }

    it('puts no more than its budget: twelve status writes at 5 puts/s with a burst of 2 take about two seconds, and every one lands', async () => {
      const store = await EtcdStore.open(etcd.uri, { lease: { putsPerSecond: 5, putBurst: 2 } });
      stores.push(store);
      await store.registerNode({ node_id: 'busy', started: 1_700_000_000, version: '1' });
      const puts = await history('/logyard/status/busy');
      for (let sent = 1; sent <= 12; sent++) await store.putNodeStatus(nodeStatus('busy', { web: { ...RUNNING, sent } }));
      await vi.waitFor(() => expect(puts.values).toHaveLength(12));
      await puts.close();
      expect(puts.values.map(({ value }) => JSON.parse(value).drains.web.sent)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
      // The bucket was emptied by the node entry and the first write: the eleven others wait 200 ms each.
      expect(puts.values[11].at - puts.values[0].at).toBeGreaterThanOrEqual(11 * 200 * 0.9);
    });

    /** A node registered (through the proxy unless told) with a first status written, and the lease it holds. */
    async function registeredNode(nodeId: string, ttlSeconds: number, uri = `etcd://127.0.0.1:${proxy.port}`): Promise<{ store: EtcdStore; before: string }> {
      const store = await EtcdStore.open(uri, { nodeTtlSeconds: ttlSeconds, lease: { renewSpreadMs: 500 } });
      stores.push(store);
      await store.registerNode({ node_id: nodeId, started: 1_700_000_000, version: '1' });
      await store.putNodeStatus(nodeStatus(nodeId, { web: { ...RUNNING, sent: 1 } }));
      return { store, before: await leaseOf(`/logyard/nodes/${nodeId}`) };
    }

    it('after an outage longer than its TTL takes a new lease and writes the node entry, then the latest status, once each', async () => {
      const { store, before } = await registeredNode('away', 2);

      proxy.disconnect();
      // etcd lets the lease expire: both keys go.
      await vi.waitFor(async () => expect(await admin.getAll().prefix('/logyard/').keys()).toEqual([]), { timeout: 10_000 });
      // A status written while etcd is away fails, and is what the new lease gets.
      await expect(store.putNodeStatus(nodeStatus('away', { web: { ...RUNNING, sent: 2 } }))).rejects.toThrow(/cannot write the status of node away/);
      const nodes = await history('/logyard/nodes/away');
      const statuses = await history('/logyard/status/away');
      proxy.restore();

      await vi.waitFor(async () => expect(JSON.parse((await get('/logyard/status/away')) || '{}').drains?.web.sent).toBe(2), { timeout: 15_000 });
      const after = await leaseOf('/logyard/nodes/away');
      expect(after).not.toBe('0');
      expect(after).not.toBe(before);
      expect(await leaseOf('/logyard/status/away')).toBe(after);
      expect(JSON.parse(await get('/logyard/nodes/away'))).toEqual({ started: 1_700_000_000, version: '1' });
      // Once each, the node entry first.
      await new Promise((resolve) => setTimeout(resolve, 500));
      await Promise.all([nodes.close(), statuses.close()]);
      expect(nodes.values).toHaveLength(1);
      expect(statuses.values).toHaveLength(1);
      expect(nodes.values[0].at).toBeLessThanOrEqual(statuses.values[0].at);
    });

    it('after its lease is revoked on etcd while the node is cut off, takes a new lease and writes its entries again', async () => {
      const { before } = await registeredNode('revoked', 10);

      proxy.disconnect();
      // etcd's lease IDs are hex for etcdctl.
      await etcdctl(etcd.endpoint, ['lease', 'revoke', BigInt(before).toString(16)]);
      expect(await admin.getAll().prefix('/logyard/').keys()).toEqual([]);
      const nodes = await history('/logyard/nodes/revoked');
      proxy.restore();

      await vi.waitFor(async () => expect(await get('/logyard/status/revoked')).not.toBe(''), { timeout: 15_000 });
      const after = await leaseOf('/logyard/nodes/revoked');
      expect(after).not.toBe('0');
      expect(after).not.toBe(before);
      expect(await leaseOf('/logyard/status/revoked')).toBe(after);
      expect(JSON.parse(await get('/logyard/status/revoked')).drains.web.sent).toBe(1);
      await nodes.close();
      expect(nodes.values.map(({ value }) => JSON.parse(value))).toEqual([{ started: 1_700_000_000, version: '1' }]);
    }, 30_000);

    it('keeps its lease through etcd killed for three times its TTL and restarted: same lease, nothing written again, still kept alive after', async () => {
      const { before } = await registeredNode('kept', 2, etcd.uri);

      await etcd.kill();
      // Before: the node counted its lease lost at twice the TTL and took a new one when etcd came back.
      await new Promise((resolve) => setTimeout(resolve, 6_000));
      await etcd.restart();
      const nodes = await history('/logyard/nodes/kept');
      const statuses = await history('/logyard/status/kept');
      // Twice the TTL after etcd is back: the lease lives only if its keepalives went on.
      await new Promise((resolve) => setTimeout(resolve, 8_000));
      await Promise.all([nodes.close(), statuses.close()]);
      expect(await leaseOf('/logyard/nodes/kept')).toBe(before);
      expect(await leaseOf('/logyard/status/kept')).toBe(before);
      expect(JSON.parse(await get('/logyard/status/kept')).drains.web.sent).toBe(1);
      expect(nodes.values).toEqual([]);
      expect(statuses.values).toEqual([]);
    }, 30_000);

    it('a lease kept through an outage writes a change of state that failed meanwhile as soon as etcd is back, and leaves counters alone for the next write', async () => {
      const { store, before: lease } = await registeredNode('kept', 2, etcd.uri);
      const sent = async (): Promise<number> => JSON.parse(await get('/logyard/status/kept')).drains.web.sent;
      /** etcd killed, `write` failing meanwhile, and a few keepalives failing too; then etcd restarted. */
      const outage = async (write: () => Promise<void>): Promise<void> => {
        await etcd.kill();
        await expect(write()).rejects.toThrow(/cannot write the status of node kept/);
        await new Promise((resolve) => setTimeout(resolve, 2_000));
        await etcd.restart();
      };

      await outage(() => store.putNodeStatus(nodeStatus('kept', { web: { ...RUNNING, state: 'RETRYING', sent: 2 } })));
      const back = Date.now();
      await vi.waitFor(async () => expect(await sent()).toBe(2), { timeout: 10_000 });
      const written = Date.now() - back;

      await outage(() => store.putNodeStatus(nodeStatus('kept', { web: { ...RUNNING, state: 'RETRYING', sent: 3 } }), undefined, { countersOnly: true }));
      // Twice as long as the change of state took to be written, and a keepalive or more: not written.
      await new Promise((resolve) => setTimeout(resolve, Math.max(2 * written, 2_000)));
      expect(await sent()).toBe(2);
      await store.putNodeStatus(nodeStatus('kept', { web: { ...RUNNING, state: 'RETRYING', sent: 4 } }), undefined, { countersOnly: true });
      expect(await sent()).toBe(4);
      expect(await leaseOf('/logyard/status/kept')).toBe(lease);
    }, 40_000);
  });

  describe('one connection', () => {
    it('a node holds one connection to etcd for all it does: lease and keepalive, status writes, counting, three watches', async () => {
      const store = await EtcdStore.open(`etcd://127.0.0.1:${proxy.port}`, { ownConnections: true });
      stores.push(store);
      await store.registerNode({ node_id: 'one', started: 1_700_000_000, version: '1' });
      const seen: string[] = [];
      await store.watchFormats(() => seen.push('formats'));
      await store.watchTenants(() => seen.push('tenants'));
      await store.watchDrains((update) => seen.push(...update.entries.keys()));
      await store.putNodeStatus(nodeStatus('one', { web: RUNNING }));
      expect(await store.countNodes()).toBe(1);
      const writer = await open();
      await writer.putDrain('web', 'tcp://10.0.0.9:1');
      await vi.waitFor(() => expect(seen).toContain('web'));
      expect(proxy.connections).toBe(1);

      // Closing it revokes the lease (the node's keys go at once) and lets go of the connection; twice is harmless.
      await Promise.all([store.close(), store.close()]);
      expect(await admin.getAll().prefix('/logyard/nodes/').keys()).toEqual([]);
      await vi.waitFor(() => expect(proxy.connections).toBe(0));
    });

    it('a failed status write leaves the watches and the lease alone', async () => {
      const store = await EtcdStore.open(etcd.uri);
      stores.push(store);
      await store.registerNode({ node_id: 'big', started: 1_700_000_000, version: '1' });
      const errors: string[] = [];
      const deliveries: string[][] = [];
      await store.watchDrains((update) => deliveries.push(drainList(update).map((d) => d.name)), (error) => errors.push(error.message));
      // Past what etcd's gRPC server takes in one message: RESOURCE_EXHAUSTED, which etcd3 counts as a
      // broken connection and answers by closing every channel of the client.
      const huge = nodeStatus('big', { web: { ...RUNNING, error: 'x'.repeat(3_000_000) } });
      await expect(store.putNodeStatus(huge)).rejects.toThrow(/cannot write the status of node big/);
      const writer = await open();
      await writer.putDrain('after', 'tcp://10.0.0.9:1');
      await vi.waitFor(() => expect(deliveries.at(-1)).toEqual(['after']));
      expect(errors).toEqual([]);
      await store.putNodeStatus(nodeStatus('big', { web: RUNNING }));
      expect(JSON.parse(await get('/logyard/status/big')).drains.web).toEqual({ sent: 12, dropped: { buffer_full: 3 } });
    });
  });

  describe('waiting while etcd is away', () => {
    it('a pause between attempts ends when etcd answers again, not a whole backoff later', async () => {
      const connection = await connect(`etcd://127.0.0.1:${proxy.port}`);
      try {
        await connection.client.get('/logyard/x').exec();
        proxy.disconnect();
        await expect(connection.client.get('/logyard/x').exec()).rejects.toThrow();
        let over = false;
        const pausing = connection.pause(600_000).then(() => (over = true));
        await new Promise((resolve) => setTimeout(resolve, 500));
        expect(over).toBe(false);
        proxy.restore();
        await pausing;
        expect(await connection.client.get('/logyard/x').exec()).toMatchObject({ kvs: [] });
      } finally {
        connection.close();
      }
    });
  });

  describe('etcd killed and restarted', () => {
    it("every node's watch lists again within a few seconds of etcd's return, though its backoff had grown to 5 s", async () => {
      const nodes = await Promise.all(Array.from({ length: 5 }, () => EtcdStore.open(etcd.uri, { ownConnections: true, nodeTtlSeconds: 2 })));
      stores.push(...nodes);
      const seen = nodes.map(() => [] as string[]);
      // Each as a core: its lease, entry and status, and its three watches, on its one connection.
      await Promise.all(
        nodes.map(async (node, i) => {
          await node.registerNode({ node_id: `node-${i}`, started: 1_700_000_000, version: '1' });
          await node.putNodeStatus(nodeStatus(`node-${i}`, { web: RUNNING }));
          await node.watchFormats(() => undefined);
          await node.watchTenants(() => undefined);
          await node.watchDrains((update) => (seen[i] = drainList(update).map((d) => d.name)));
        }),
      );
      await etcd.kill();
      // Long enough for the waits between re-lists to reach their longest (5 s).
      await new Promise((resolve) => setTimeout(resolve, 9_000));
      await etcd.restart();
      const back = Date.now();
      const writer = await open();
      await vi.waitFor(() => writer.putDrain('after', 'tcp://10.0.0.9:1'), { timeout: 5_000, interval: 100 });
      // Before: a re-list refused by the circuit breaker still open from the outage waited a whole
      // backoff (4 to 6 s) although etcd was back.
      await vi.waitFor(() => expect(seen).toEqual(nodes.map(() => ['after'])), { timeout: 4_000 });
      expect(Date.now() - back).toBeLessThan(4_000);
    }, 40_000);
  });

  describe('one watch stream', () => {
    /** A watch of `prefix` from `revision` on `stream`, recording what it gets. */
    function watchOn(stream: WatchStream, prefix: string, revision?: string) {
      const got = { created: 0, keys: [] as string[], ended: [] as WatchEnd[] };
      const key = Buffer.from(prefix);
      const end = Buffer.from(prefix.slice(0, -1) + String.fromCharCode(prefix.charCodeAt(prefix.length - 1) + 1));
      const watch = stream.watch(
        { key, range_end: end, ...(revision ? { start_revision: revision } : {}) },
        {
          onCreated: () => got.created++,
          onEvents: (response) => got.keys.push(...response.events.map((e) => e.kv.key.toString())),
          onEnded: (ended) => got.ended.push(ended),
        },
      );
      return { got, watch };
    }

    it('a watch etcd cancels (its revision compacted) ends alone: cancelling it again is harmless and the others go on', async () => {
      const connection = await connect(etcd.uri);
      const stream = new WatchStream(connection.client);
      try {
        await admin.put('/logyard/drains/a').value('{"uri":"tcp://10.0.0.9:1"}');
        const old = (await admin.get('/logyard/drains/a').exec()).header.revision;
        await admin.put('/logyard/drains/a').value('{"uri":"tcp://10.0.0.9:2"}');
        const now = (await admin.get('/logyard/drains/a').exec()).header.revision;
        await etcdctl(etcd.endpoint, ['compaction', now]);

        const formats = watchOn(stream, '/logyard/formats/');
        const behind = watchOn(stream, '/logyard/drains/', old);
        const tenants = watchOn(stream, '/logyard/tenants/');
        await vi.waitFor(() => expect(behind.got.ended).toHaveLength(1));
        expect(behind.got.ended[0]).toMatchObject({ cancelledBy: 'etcd' });
        behind.watch.cancel();
        behind.watch.cancel();
        await vi.waitFor(() => expect(formats.got.created + tenants.got.created).toBe(2));

        await admin.put('/logyard/formats/f').value('{"template":"{{text}}"}');
        await admin.put('/logyard/tenants/t').value('{}');
        await vi.waitFor(() => expect([formats.got.keys, tenants.got.keys]).toEqual([['/logyard/formats/f'], ['/logyard/tenants/t']]));
        // A watch cancelled by its owner gets nothing more; a new one on the same stream works.
        formats.watch.cancel();
        const drains = watchOn(stream, '/logyard/drains/');
        await vi.waitFor(() => expect(drains.got.created).toBe(1));
        await admin.put('/logyard/formats/g').value('{"template":"{{text}}"}');
        await admin.put('/logyard/drains/b').value('{"uri":"tcp://10.0.0.9:3"}');
        await vi.waitFor(() => expect(drains.got.keys).toEqual(['/logyard/drains/b']));
        expect(formats.got.keys).toEqual(['/logyard/formats/f']);
        expect([formats.got.ended, tenants.got.ended, drains.got.ended]).toEqual([[], [], []]);
      } finally {
        stream.close();
        connection.close();
      }
    });

    it('a broken stream ends every watch on it, and a new watch opens a new stream', async () => {
      const connection = await connect(`etcd://127.0.0.1:${proxy.port}`);
      const stream = new WatchStream(connection.client);
      try {
        const a = watchOn(stream, '/logyard/drains/');
        const b = watchOn(stream, '/logyard/formats/');
        await vi.waitFor(() => expect(a.got.created + b.got.created).toBe(2));
        proxy.disconnect();
        await vi.waitFor(() => expect([a.got.ended.length, b.got.ended.length]).toEqual([1, 1]), { timeout: 5_000 });
        expect(a.got.ended[0]).toMatchObject({ cancelledBy: 'stream' });
        proxy.restore();
        const c = watchOn(stream, '/logyard/drains/');
        await vi.waitFor(() => expect(c.got.created).toBe(1), { timeout: 10_000 });
        await admin.put('/logyard/drains/x').value('{"uri":"tcp://10.0.0.9:1"}');
        await vi.waitFor(() => expect(c.got.keys).toEqual(['/logyard/drains/x']));
        expect(a.got.keys).toEqual([]);
      } finally {
        stream.close();
        connection.close();
      }
    });
  });

  describe('watching', () => {
    async function watch(store: Store): Promise<{ deliveries: DrainRecord[][]; changes: string[][]; errors: string[]; recovered: () => number }> {
      const deliveries: DrainRecord[][] = [];
      /** The names each delivery said changed. */
      const changes: string[][] = [];
      const errors: string[] = [];
      let recoveries = 0;
      await store.watchDrains(
        (update) => {
          deliveries.push(drainList(update));
          changes.push(changedNames(update));
        },
        (error: StoreError) => errors.push(error.message),
        () => recoveries++,
      );
      return { deliveries, changes, errors, recovered: () => recoveries };
    }

    it('after a broken watch lists again and watches from there: every change made meanwhile arrives', async () => {
      const writer = await open();
      await writer.putDrain('kept', 'tcp://10.0.0.9:1');
      await writer.putDrain('removed', 'tcp://10.0.0.9:2');
      const { deliveries, errors, recovered } = await watch(await open(`etcd://127.0.0.1:${proxy.port}`));
      expect(uris(deliveries.at(-1)!)).toEqual({ kept: 'tcp://10.0.0.9:1', removed: 'tcp://10.0.0.9:2' });

      proxy.disconnect();
      await vi.waitFor(() => expect(errors.length).toBeGreaterThan(0), { timeout: 5_000 });
      // Changes the watcher cannot see while cut off, each at its own revision.
      await writer.deleteDrain('removed');
      await writer.putDrain('kept', 'tcp://10.0.0.9:3');
      await writer.putDrain('added', 'tcp://10.0.0.9:4');
      proxy.restore();

      await vi.waitFor(() => expect(uris(deliveries.at(-1)!)).toEqual({ added: 'tcp://10.0.0.9:4', kept: 'tcp://10.0.0.9:3' }), { timeout: 10_000 });
      expect(recovered()).toBe(1);
      expect(errors.every((message) => /cannot (watch|list) drains/.test(message))).toBe(true);
      // The watch goes on: a later change arrives too.
      await writer.putDrain('later', 'tcp://10.0.0.9:5');
      await vi.waitFor(() => expect(Object.keys(uris(deliveries.at(-1)!))).toEqual(['added', 'kept', 'later']), { timeout: 1_000 });
    });

    /** A store whose drain watch's reads of etcd are recorded: `list`, `changes` (written since its revision) or `keys`. */
    async function watchCountingReads(uri: string) {
      const reads: string[] = [];
      const store = await open(uri, { onWatchRead: (read: WatchRead) => read.what === 'drains' && reads.push(read.kind) });
      return { reads, ...(await watch(store)) };
    }

    /** Status documents written and compacted: etcd's revision moves on and the drains' last revision is compacted away. */
    async function writeOthersAndCompact(): Promise<void> {
      for (let i = 0; i < 20; i++) await admin.put(`/logyard/status/other-${i % 3}`).value(`{"updated":${i},"drains":{}}`);
      await etcdctl(etcd.endpoint, ['compaction', (await admin.get('/logyard/none').exec()).header.revision]);
    }

    it('catches up after a cut by reading only what was written meanwhile, and the keys when something was deleted: not every drain again', async () => {
      const writer = await open();
      await writer.putDrain('kept', 'tcp://10.0.0.9:1');
      await writer.putDrain('changed', 'tcp://10.0.0.9:2');
      await writer.putDrain('removed', 'tcp://10.0.0.9:3');
      const { reads, deliveries, changes, errors } = await watchCountingReads(`etcd://127.0.0.1:${proxy.port}`);
      expect(reads).toEqual(['list']);
      expect(changes).toEqual([['changed', 'kept', 'removed']]);

      // Cut off while drains are added and changed only: what was written is read, nothing more.
      proxy.disconnect();
      await vi.waitFor(() => expect(errors.length).toBeGreaterThan(0), { timeout: 5_000 });
      await writer.putDrain('changed', 'tcp://10.0.0.9:4');
      await writer.putDrain('added', 'tcp://10.0.0.9:5');
      await writeOthersAndCompact();
      proxy.restore();
      const all = { added: 'tcp://10.0.0.9:5', changed: 'tcp://10.0.0.9:4', kept: 'tcp://10.0.0.9:1', removed: 'tcp://10.0.0.9:3' };
      await vi.waitFor(() => expect(uris(deliveries.at(-1)!)).toEqual(all), { timeout: 10_000 });
      expect(reads).toEqual(['list', 'changes']);
      // What changed meanwhile reaches the watcher once, by name: what was kept is not told again.
      expect(changes).toEqual([['changed', 'kept', 'removed'], ['added', 'changed']]);

      // Cut off while one is deleted and another deleted and written again: the keys are read too.
      errors.length = 0;
      proxy.disconnect();
      await vi.waitFor(() => expect(errors.length).toBeGreaterThan(0), { timeout: 5_000 });
      await writer.deleteDrain('removed');
      await writer.deleteDrain('kept');
      await writer.putDrain('kept', 'tcp://10.0.0.9:6');
      await writeOthersAndCompact();
      proxy.restore();
      await vi.waitFor(() => expect(uris(deliveries.at(-1)!)).toEqual({ added: 'tcp://10.0.0.9:5', changed: 'tcp://10.0.0.9:4', kept: 'tcp://10.0.0.9:6' }), { timeout: 10_000 });
      expect(reads).toEqual(['list', 'changes', 'changes', 'keys']);
      expect(changes.slice(2)).toEqual([['kept', 'removed']]);

      // And watches from there.
      await writer.deleteDrain('added');
      await vi.waitFor(() => expect(Object.keys(uris(deliveries.at(-1)!))).toEqual(['changed', 'kept']), { timeout: 1_000 });
      expect(reads).toEqual(['list', 'changes', 'changes', 'keys']);
      expect(changes.slice(3)).toEqual([['added']]);
    }, 30_000);

    it('a watch whose drains saw no change while status was written and compacted catches up after etcd restarts without listing the drains again, and sees drains added and deleted then', async () => {
      const writer = await open();
      await writer.putDrain('a', 'tcp://10.0.0.9:1');
      await writer.putDrain('b', 'tcp://10.0.0.9:2');
      const { reads, deliveries, errors } = await watchCountingReads(etcd.uri);
      await writeOthersAndCompact();
      await etcd.kill();
      await vi.waitFor(() => expect(errors.length).toBeGreaterThan(0), { timeout: 5_000 });
      await etcd.restart();
      await vi.waitFor(() => writer.deleteDrain('a'), { timeout: 5_000, interval: 100 });
      await writer.putDrain('c', 'tcp://10.0.0.9:3');
      await vi.waitFor(() => expect(uris(deliveries.at(-1)!)).toEqual({ b: 'tcp://10.0.0.9:2', c: 'tcp://10.0.0.9:3' }), { timeout: 10_000 });
      // The delete and the put came either in the catch-up's reads or on the watch after it.
      expect(reads[0]).toBe('list');
      expect(reads.slice(1).filter((read) => read === 'list')).toEqual([]);
      expect(reads.filter((read) => read === 'changes')).toHaveLength(1);
      await writer.putDrain('d', 'tcp://10.0.0.9:4');
      await vi.waitFor(() => expect(Object.keys(uris(deliveries.at(-1)!))).toEqual(['b', 'c', 'd']), { timeout: 1_000 });
    }, 30_000);

    it('loses nothing when etcd compacted the revisions it missed while cut off', async () => {
      const writer = await open();
      await writer.putDrain('old', 'tcp://10.0.0.9:1');
      const { deliveries, errors } = await watch(await open(`etcd://127.0.0.1:${proxy.port}`));

      proxy.disconnect();
      await vi.waitFor(() => expect(errors.length).toBeGreaterThan(0), { timeout: 5_000 });
      await writer.deleteDrain('old');
      await writer.putDrain('new', 'tcp://10.0.0.9:2');
      const revision = (await admin.get('/logyard/drains/new').exec()).header.revision;
      await etcdctl(etcd.endpoint, ['compaction', revision]);
      proxy.restore();

      await vi.waitFor(() => expect(uris(deliveries.at(-1)!)).toEqual({ new: 'tcp://10.0.0.9:2' }), { timeout: 10_000 });
      await writer.putDrain('after', 'tcp://10.0.0.9:3');
      await vi.waitFor(() => expect(Object.keys(uris(deliveries.at(-1)!))).toEqual(['after', 'new']), { timeout: 1_000 });
    });
  });
});
