import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { Etcd3 } from 'etcd3';
import { etcdctl } from '../../../test/setup/services.js';
import { changedNames, drainList, nodeStatus, RUNNING, uris, latest, rejectionOf, watchFrom } from './helpers.js';
import { afterAll, afterEach, beforeEach, describe, expect, inject, it, vi } from 'vitest';
import {
  drainNameProblem,
  drainStatusRows,
  InvalidNameError,
  StoreError,
  type DrainRecord,
  type Store,
} from '../src/index.js';
import { EtcdStore } from '../src/etcd-store.js';
import { FileStore } from '../src/file-store.js';

/**
 * The store contract (docs/store.md): every test here runs against each backend, the embedded
 * file:// store and a real etcd (the run's shared etcd, from test/setup/global.ts). What only one
 * backend has (files on disk, etcd leases and watch revisions) is tested in its own file.
 */

/** A module of the built package, for the child process that plays another program using the same store. */
const built = (module: string): string => resolve(dirname(fileURLToPath(import.meta.url)), '../dist', module);
/** Changes made by another process must reach a watcher within this ("at once", docs/store.md). */
const WATCH_DEADLINE_MS = 1_000;

interface Backend {
  name: string;
  /** How long a temporary drain or node entry of a `short` store outlives its last refresh. */
  shortTtlMs: number;
  /** A store on the backend; each one stands for a separate process sharing it. */
  open(short?: boolean): Promise<Store>;
  /** The built module a child process imports as `mod`. */
  builtModule: string;
  /** Source of an expression, evaluated in a child process with `mod` the built module, that opens a short store. */
  childOpen(): string;
  /** Writes a drain's value as another tool would (etcdctl, an editor), bypassing the store. */
  writeRawDrain(name: string, text: string): Promise<void>;
  /** The `problem` prefix of an unusable drain. */
  problemPrefix(name: string): string;
  description(): string;
  reset(): Promise<void>;
  teardown(): Promise<void>;
}

let fileDir = '';
const fileBackend: Backend = {
  name: 'file',
  // Two seconds: a refresher one event-loop stall away from expiry made a loaded run flaky at 1 s.
  shortTtlMs: 2_000,
  async open(short) {
    return new FileStore(join(fileDir, 'store'), short ? { ttlMs: 2_000, refreshMs: 200 } : {});
  },
  builtModule: 'file-store.js',
  childOpen: () => `new mod.FileStore(${JSON.stringify(join(fileDir, 'store'))}, { ttlMs: 1000, refreshMs: 200 })`,
  async writeRawDrain(name, text) {
    mkdirSync(join(fileDir, 'store', 'drains'), { recursive: true });
    writeFileSync(join(fileDir, 'store', 'drains', `${name}.json`), text);
  },
  problemPrefix: (name) => `drains/${name}.json: `,
  description: () => `file://${join(fileDir, 'store')}`,
  async reset() {
    if (fileDir) rmSync(fileDir, { recursive: true, force: true });
    fileDir = mkdtempSync(join(tmpdir(), 'logyard-store-'));
  },
  async teardown() {
    rmSync(fileDir, { recursive: true, force: true });
  },
};

/** etcd rounds lease TTLs to whole seconds and grants at least its minimum (about 2 s by default). */
const ETCD_SHORT_TTL_S = 2;
let etcdAdmin: Etcd3 | undefined;
const etcdBackend: Backend = {
  name: 'etcd',
  shortTtlMs: ETCD_SHORT_TTL_S * 1000,
  open: (short) => EtcdStore.open(inject('etcdUri'), short ? { nodeTtlSeconds: ETCD_SHORT_TTL_S, temporaryTtlSeconds: ETCD_SHORT_TTL_S } : {}),
  builtModule: 'etcd-store.js',
  childOpen: () =>
    `await mod.EtcdStore.open(${JSON.stringify(inject('etcdUri'))}, { nodeTtlSeconds: ${ETCD_SHORT_TTL_S}, temporaryTtlSeconds: ${ETCD_SHORT_TTL_S} })`,
  async writeRawDrain(name, text) {
    await etcdctl(inject('etcdUri').replace('etcd://', 'http://'), ['put', `/logyard/drains/${name}`, text]);
  },
  problemPrefix: (name) => `/logyard/drains/${name}: `,
  description: () => inject('etcdUri'),
  async reset() {
    await admin().delete().prefix('/logyard/');
  },
  async teardown() {
    await admin().delete().prefix('/logyard/');
    etcdAdmin?.close();
  },
};

function admin(): Etcd3 {
  etcdAdmin ??= new Etcd3({ hosts: inject('etcdUri').replace('etcd://', 'http://') });
  return etcdAdmin;
}



describe.each([fileBackend, etcdBackend])('the $name store', (backend) => {
  const openedStores: Store[] = [];
  const children: ChildProcess[] = [];

  beforeEach(async () => {
    await backend.reset();
  });

  afterEach(async () => {
    for (const child of children.splice(0)) {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGKILL');
        await once(child, 'exit');
      }
    }
    await Promise.all(openedStores.splice(0).map((store) => store.close()));
  });

  afterAll(async () => {
    await backend.teardown();
  });

  async function openStore(short = false): Promise<Store> {
    const store = await backend.open(short);
    openedStores.push(store);
    return store;
  }

  describe('drains', () => {
    it('adds, lists sorted by name, gets and deletes drains', async () => {
      const store = await openStore();
      const before = Date.now() / 1000;
      await store.putDrain('web', 'tcp://10.0.0.9:514');
      await store.putDrain('archive', 'file:///var/log/logyard/all.log');
      const after = Date.now() / 1000;

      const drains = await store.listDrains();
      expect(drains.map((drain) => [drain.name, drain.uri])).toEqual([
        ['archive', 'file:///var/log/logyard/all.log'],
        ['web', 'tcp://10.0.0.9:514'],
      ]);
      for (const drain of drains) {
        expect(drain.created).toBeGreaterThanOrEqual(before);
        expect(drain.created).toBeLessThanOrEqual(after);
        expect(drain.temporary).toBeUndefined();
        expect(drain.problem).toBeUndefined();
      }
      expect(await store.getDrain('web')).toEqual(drains[1]);
      expect(await store.getDrain('missing')).toBeUndefined();

      expect(await store.deleteDrain('web')).toBe(true);
      expect(await store.deleteDrain('web')).toBe(false);
      expect(uris(await store.listDrains())).toEqual({ archive: 'file:///var/log/logyard/all.log' });
    });

    it('replaces a drain of the same name, with a new creation time', async () => {
      const store = await openStore();
      await store.putDrain('web', 'tcp://10.0.0.9:514');
      const first = await store.getDrain('web');
      await store.putDrain('web', 'udp://10.0.0.9:514');
      const drains = await store.listDrains();
      expect(drains).toHaveLength(1);
      expect(drains[0].uri).toBe('udp://10.0.0.9:514');
      expect(drains[0].created).toBeGreaterThanOrEqual(first!.created);
    });

    it('is shared by every store opened on the same place', async () => {
      await (await openStore()).putDrain('web', 'tcp://10.0.0.9:514');
      expect(uris(await (await openStore()).listDrains())).toEqual({ web: 'tcp://10.0.0.9:514' });
    });

    it('lists a drain another tool wrote badly, with its problem, instead of failing', async () => {
      const store = await openStore();
      await store.putDrain('good', 'tcp://10.0.0.9:514');
      await backend.writeRawDrain('broken', '{"uri": "tcp://');
      await backend.writeRawDrain('nouri', '{"created": 1700000000}');

      const drains = await store.listDrains();
      expect(drains.map((drain) => [drain.name, drain.uri, drain.problem])).toEqual([
        ['broken', '', `${backend.problemPrefix('broken')}not valid JSON`],
        ['good', 'tcp://10.0.0.9:514', undefined],
        ['nouri', '', `${backend.problemPrefix('nouri')}"uri" must be a non-empty string`],
      ]);
      expect((await store.getDrain('broken'))?.problem).toBe(`${backend.problemPrefix('broken')}not valid JSON`);
      expect(await store.deleteDrain('broken')).toBe(true);
      expect((await store.listDrains()).map((drain) => drain.name)).toEqual(['good', 'nouri']);
    });
  });

  describe('hand-written entries (an admin\'s own tooling writes the store too)', () => {
    it('are drains with just {"uri"}, created being read when it is a number or a date and ignored otherwise', async () => {
      await backend.writeRawDrain('bare', '{"uri": "tcp://10.0.0.9:514"}');
      await backend.writeRawDrain('dated', '{"uri": "udp://10.0.0.9:514", "created": "2024-05-01T12:00:00Z"}');
      await backend.writeRawDrain('numeric', '{"uri": "tcp://10.0.0.9:515", "created": "1700000000"}');
      await backend.writeRawDrain('vague', '{"uri": "tcp://10.0.0.9:516", "created": "last week", "owner": "ops"}');
      const store = await openStore();
      const expected: DrainRecord[] = [
        { name: 'bare', uri: 'tcp://10.0.0.9:514' },
        { name: 'dated', uri: 'udp://10.0.0.9:514', created: 1_714_564_800 },
        { name: 'numeric', uri: 'tcp://10.0.0.9:515', created: 1_700_000_000 },
        { name: 'vague', uri: 'tcp://10.0.0.9:516' },
      ];
      expect(await store.listDrains()).toEqual(expected);
      expect(await store.getDrain('bare')).toEqual(expected[0]);
      const deliveries = await watchFrom(store);
      expect(deliveries).toEqual([expected]);
    });

    it('with a key that is no drain name are listed with their problem (and URI), the others as usual', async () => {
      const store = await openStore();
      const deliveries = await watchFrom(store);
      await store.putDrain('good', 'tcp://10.0.0.9:514');
      const uri = '{"uri": "tcp://10.0.0.9:9"}';
      // The bare prefix (etcd's /logyard/drains/, the file drains/.json), bad characters, a builtin.* name.
      for (const name of ['', 'a!bad', 'bad name!', 'builtin.apptail']) await backend.writeRawDrain(name, uri);
      const expected = [
        ['', 'tcp://10.0.0.9:9', `${backend.problemPrefix('')}drain name is empty`],
        ['a!bad', 'tcp://10.0.0.9:9', `${backend.problemPrefix('a!bad')}drain name "a!bad" may only contain [A-Za-z0-9_.-]`],
        ['bad name!', 'tcp://10.0.0.9:9', `${backend.problemPrefix('bad name!')}drain name "bad name!" may only contain [A-Za-z0-9_.-]`],
        ['builtin.apptail', 'tcp://10.0.0.9:9', `${backend.problemPrefix('builtin.apptail')}builtin.* drains are defined by the config file, not the store`],
        ['good', 'tcp://10.0.0.9:514', undefined],
      ];
      expect((await store.listDrains()).map((drain) => [drain.name, drain.uri, drain.problem])).toEqual(expected);
      await vi.waitFor(() => expect(deliveries.at(-1)!.map((drain) => [drain.name, drain.uri, drain.problem])).toEqual(expected), {
        timeout: WATCH_DEADLINE_MS,
      });
      expect((await store.getDrain('good'))?.uri).toBe('tcp://10.0.0.9:514');
    });
  });

  describe('drain names', () => {
    it('follow docs/store.md', () => {
      expect(drainNameProblem('web-1.prod_eu')).toBeNull();
      expect(drainNameProblem('x'.repeat(128))).toBeNull();
      expect(drainNameProblem('x'.repeat(129))).toBe('drain name is longer than 128 bytes');
      expect(drainNameProblem('')).toBe('drain name is empty');
      expect(drainNameProblem('my drain')).toBe('drain name "my drain" may only contain [A-Za-z0-9_.-]');
      expect(drainNameProblem('a/b')).toBe('drain name "a/b" may only contain [A-Za-z0-9_.-]');
      expect(drainNameProblem('..')).toBe('drain name must not be ".."');
    });

    it('are checked by every drain operation', async () => {
      const store = await openStore();
      const attempts = [
        () => store.putDrain('a/b', 'tcp://x:1'),
        () => store.getDrain('a b'),
        () => store.deleteDrain(''),
        () => store.putTemporaryDrain('..', 'tcp://x:1'),
      ];
      for (const attempt of attempts) expect(await rejectionOf(attempt())).toBeInstanceOf(InvalidNameError);
      expect(await store.listDrains()).toEqual([]);
    });

    it('refuses builtin.* drains, which the config file defines', async () => {
      const store = await openStore();
      const error = await rejectionOf(store.putDrain('builtin.apptail', 'redis://127.0.0.1:6379'));
      expect(error).toBeInstanceOf(InvalidNameError);
      expect(error.message).toBe('drain "builtin.apptail" is builtin: builtin.* drains are defined by the config file');
      expect(await rejectionOf(store.deleteDrain('builtin.apptail'))).toBeInstanceOf(InvalidNameError);
    });
  });

  describe('watching drains', () => {
    it('delivers the current set at once, then changes made by another store', async () => {
      const writer = await openStore();
      await writer.putDrain('web', 'tcp://10.0.0.9:514');
      const deliveries = await watchFrom(await openStore());
      expect(deliveries).toHaveLength(1);
      expect(latest(deliveries)).toEqual({ web: 'tcp://10.0.0.9:514' });

      await writer.putDrain('archive', 'file:///var/log/logyard/all.log');
      await vi.waitFor(() => expect(latest(deliveries)).toEqual({ archive: 'file:///var/log/logyard/all.log', web: 'tcp://10.0.0.9:514' }), {
        timeout: WATCH_DEADLINE_MS,
      });

      await writer.putDrain('web', 'udp://10.0.0.9:514');
      await vi.waitFor(() => expect(latest(deliveries)).toEqual({ archive: 'file:///var/log/logyard/all.log', web: 'udp://10.0.0.9:514' }), {
        timeout: WATCH_DEADLINE_MS,
      });

      await writer.deleteDrain('archive');
      await writer.deleteDrain('web');
      await vi.waitFor(() => expect(latest(deliveries)).toEqual({}), { timeout: WATCH_DEADLINE_MS });
    });

    it('sees a drain written by another tool, with its problem when unusable', async () => {
      const deliveries = await watchFrom(await openStore());
      await backend.writeRawDrain('manual', JSON.stringify({ uri: 'tcp://10.0.0.9:514', created: 1_700_000_000 }));
      await vi.waitFor(() => expect(latest(deliveries)).toEqual({ manual: 'tcp://10.0.0.9:514' }), { timeout: WATCH_DEADLINE_MS });
      await backend.writeRawDrain('manual', 'not json');
      await vi.waitFor(() => expect(deliveries.at(-1)).toEqual([{ name: 'manual', uri: '', problem: `${backend.problemPrefix('manual')}not valid JSON` }]), {
        timeout: WATCH_DEADLINE_MS,
      });
    });

    it('tells each delivery which names changed: a drain added, changed and deleted each reach the watcher once, with the others left alone', async () => {
      const writer = await openStore();
      await writer.putDrain('other', 'tcp://10.0.0.9:1');
      const deliveries: Array<{ drains: Record<string, string>; changed: string[] }> = [];
      await (await openStore()).watchDrains((update) => deliveries.push({ drains: uris(drainList(update)), changed: changedNames(update) }));
      const delivered = async (count: number): Promise<void> => {
        await vi.waitFor(() => expect(deliveries.length).toBeGreaterThanOrEqual(count), { timeout: WATCH_DEADLINE_MS });
      };
      await writer.putDrain('web', 'tcp://10.0.0.9:2');
      await delivered(2);
      await writer.putDrain('web', 'udp://10.0.0.9:3');
      await delivered(3);
      await writer.deleteDrain('web');
      await delivered(4);
      // Long enough for a delivery too many to have come (see the tests above).
      await new Promise((done) => setTimeout(done, WATCH_DEADLINE_MS / 2));
      expect(deliveries).toEqual([
        { drains: { other: 'tcp://10.0.0.9:1' }, changed: ['other'] },
        { drains: { other: 'tcp://10.0.0.9:1', web: 'tcp://10.0.0.9:2' }, changed: ['web'] },
        { drains: { other: 'tcp://10.0.0.9:1', web: 'udp://10.0.0.9:3' }, changed: ['web'] },
        { drains: { other: 'tcp://10.0.0.9:1' }, changed: ['web'] },
      ]);
    });

    it('stops delivering once closed', async () => {
      const writer = await openStore();
      const deliveries: DrainRecord[][] = [];
      const watch = await (await openStore()).watchDrains((update) => deliveries.push(drainList(update)));
      await watch.close();
      await watch.close();
      await writer.putDrain('web', 'tcp://10.0.0.9:514');
      // Long enough for a running watch to have delivered (see the tests above).
      await new Promise((done) => setTimeout(done, WATCH_DEADLINE_MS));
      expect(deliveries).toEqual([[]]);
    });
  });

  describe('temporary drains', () => {
    it('live while refreshed, and are removed by release()', async () => {
      const creator = await openStore(true);
      const deliveries = await watchFrom(await openStore());
      const handle = await creator.putTemporaryDrain('tmp.tail.a.1', 'tcp://127.0.0.1:4000');
      await vi.waitFor(() => expect(latest(deliveries)).toEqual({ 'tmp.tail.a.1': 'tcp://127.0.0.1:4000' }), { timeout: WATCH_DEADLINE_MS });
      expect(deliveries.at(-1)![0].temporary).toBe(true);
      const deliveredSoFar = deliveries.length;

      // Three TTLs: without its refreshes it would long be gone.
      await new Promise((done) => setTimeout(done, 3 * backend.shortTtlMs));
      expect(uris(await (await openStore()).listDrains())).toEqual({ 'tmp.tail.a.1': 'tcp://127.0.0.1:4000' });
      // Refreshing changes nothing a user sees, so nothing is delivered.
      expect(deliveries).toHaveLength(deliveredSoFar);

      await handle.release();
      await handle.release();
      await vi.waitFor(() => expect(latest(deliveries)).toEqual({}), { timeout: WATCH_DEADLINE_MS });
      expect(await (await openStore()).listDrains()).toEqual([]);
    });

    it('are left alone by release() when someone replaced them meanwhile', async () => {
      const handle = await (await openStore(true)).putTemporaryDrain('tmp.tail.a.1', 'tcp://127.0.0.1:4000');
      await (await openStore()).putDrain('tmp.tail.a.1', 'tcp://127.0.0.1:5000');
      await handle.release();
      const [drain] = await (await openStore()).listDrains();
      expect(drain).toMatchObject({ name: 'tmp.tail.a.1', uri: 'tcp://127.0.0.1:5000' });
      expect(drain.temporary).toBeUndefined();
    });
  });

  describe('a process that dies', () => {
    /** Runs the built store in a child process: a temporary drain, a node entry and its status. */
    async function startCreator(): Promise<ChildProcess> {
      const script = `
        const mod = await import(process.argv[1]);
        const store = ${backend.childOpen()};
        await store.putTemporaryDrain('tmp.tail.child.1', 'tcp://127.0.0.1:4000');
        await store.registerNode({ node_id: 'child-node', started: 1700000000, version: '0.1.0' });
        await store.putNodeStatus(${JSON.stringify(nodeStatus('child-node'))});
        console.log('ready');
        setInterval(() => {}, 60_000);
      `;
      const child = spawn(process.execPath, ['--input-type=module', '-e', script, built(backend.builtModule)], { stdio: ['ignore', 'pipe', 'inherit'] });
      children.push(child);
      const lines = createInterface({ input: child.stdout! });
      const [line] = await Promise.race([once(lines, 'line'), once(child, 'exit').then(() => ['exited'])]);
      expect(line).toBe('ready');
      return child;
    }

    it('loses its temporary drains, node entry and status within the TTL', async () => {
      const observer = await openStore(true);
      const deliveries = await watchFrom(observer);
      const creator = await startCreator();
      await vi.waitFor(() => expect(latest(deliveries)).toEqual({ 'tmp.tail.child.1': 'tcp://127.0.0.1:4000' }), {
        timeout: WATCH_DEADLINE_MS,
      });
      expect(await observer.listNodeStatus()).toEqual([nodeStatus('child-node')]);

      creator.kill('SIGKILL');
      await once(creator, 'exit');
      // etcd checks for expired leases every 500 ms.
      const ttlAndWatchDeadline = backend.shortTtlMs + 500 + WATCH_DEADLINE_MS;
      await vi.waitFor(() => expect(latest(deliveries)).toEqual({}), { timeout: ttlAndWatchDeadline });
      expect(await observer.listDrains()).toEqual([]);
      // The node entry expires on its own refresh timer, up to a refresh after the drain.
      await vi.waitFor(async () => expect(await observer.listNodeStatus()).toEqual([]), { timeout: backend.shortTtlMs });
    });
  });

  describe('nodes and status', () => {
    it('keeps one status document per registered node, replaced by each write, listed by node', async () => {
      const five = await openStore(true);
      await five.registerNode({ node_id: '10.0.0.5', started: 1_700_000_000, version: '0.1.0' });
      await five.putNodeStatus(nodeStatus('10.0.0.5', { web: RUNNING, archive: RUNNING }));
      const four = await openStore(true);
      await four.registerNode({ node_id: '10.0.0.4', started: 1_700_000_000, version: '0.1.0' });
      await four.putNodeStatus(nodeStatus('10.0.0.4'));

      const reader = await openStore();
      const nodes = await reader.listNodeStatus();
      expect(nodes).toEqual([nodeStatus('10.0.0.4'), nodeStatus('10.0.0.5', { archive: RUNNING, web: RUNNING })]);
      expect(drainStatusRows(nodes).map((row) => [row.drain, row.node_id, row.state, row.sent])).toEqual([
        ['archive', '10.0.0.5', 'RUNNING', 12],
        ['web', '10.0.0.4', 'RUNNING', 12],
        ['web', '10.0.0.5', 'RUNNING', 12],
      ]);

      // The next write replaces the document: a drain it leaves out is gone.
      const retrying = { ...RUNNING, state: 'RETRYING', error: 'connection refused' };
      await five.putNodeStatus(nodeStatus('10.0.0.5', { web: retrying }));
      expect(await reader.listNodeStatus()).toEqual([nodeStatus('10.0.0.4'), nodeStatus('10.0.0.5', { web: retrying })]);
    });

    it('counts the live nodes (each node\'s share of the status budget follows it)', async () => {
      const reader = await openStore();
      expect(await reader.countNodes()).toBe(0);
      const five = await openStore();
      await five.registerNode({ node_id: '10.0.0.5', started: 1_700_000_000, version: '0.1.0' });
      const four = await openStore();
      await four.registerNode({ node_id: '10.0.0.4', started: 1_700_000_000, version: '0.1.0' });
      expect(await reader.countNodes()).toBe(2);
      await four.close();
      expect(await reader.countNodes()).toBe(1);
    });

    it('lands writes in the order they were made, so the last one stays', async () => {
      const node = await openStore();
      await node.registerNode({ node_id: '10.0.0.5', started: 1_700_000_000, version: '0.1.0' });
      const writes = Array.from({ length: 30 }, (_, sent) => node.putNodeStatus(nodeStatus('10.0.0.5', { web: { ...RUNNING, sent } })));
      await Promise.all(writes);
      expect(await (await openStore()).listNodeStatus()).toEqual([nodeStatus('10.0.0.5', { web: { ...RUNNING, sent: 29 } })]);
    });

    it('keeps the live picture of a node with its status (top, streams); a live part it cannot read is left out or zero', async () => {
      const node = await openStore();
      await node.registerNode({ node_id: '10.0.0.5', started: 1_700_000_000, version: '0.1.0' });
      const live = {
        in: 1200,
        in_per_s: 12.5,
        clients: [{ name: 'systail', running: true }],
        keys: [{ key: 'systail.nginx', events_per_s: 10, events_10m: 1100, last_seen: 1_700_000_100 }],
        other: { key: '(other)', events_per_s: 0.5, events_10m: 100, last_seen: 1_700_000_090 },
        drains: { web: { out_per_s: 9.5, dropped_per_s: { buffer_full: 0.5 } } },
      };
      await node.putNodeStatus({ ...nodeStatus('10.0.0.5'), live });
      expect(await (await openStore()).listNodeStatus()).toEqual([{ ...nodeStatus('10.0.0.5'), live }]);

      const odd = { in: 'many', clients: [{ running: true }, { name: 'receive' }], keys: [{ key: 'a', events_per_s: -1 }, 'b'], drains: { web: 'x' } };
      await node.putNodeStatus({ ...nodeStatus('10.0.0.5'), live: odd as never });
      expect((await (await openStore()).listNodeStatus())[0].live).toEqual({
        in: 0,
        in_per_s: 0,
        clients: [{ name: 'receive', running: false }],
        keys: [{ key: 'a', events_per_s: 0, events_10m: 0, last_seen: 0 }],
        drains: {},
      });
    });

    it('refuses the status of a node this store did not register', async () => {
      const store = await openStore();
      const error = await rejectionOf(store.putNodeStatus(nodeStatus('10.0.0.5')));
      expect(error).toBeInstanceOf(StoreError);
      expect(error.message).toBe(`${backend.description()}: node 10.0.0.5 must be registered before its status is written`);
      expect(await store.listNodeStatus()).toEqual([]);
    });

    it('keeps a registered node alive past its TTL while the store is open', async () => {
      const node = await openStore(true);
      await node.registerNode({ node_id: '10.0.0.5', started: 1_700_000_000, version: '0.1.0' });
      await node.putNodeStatus(nodeStatus('10.0.0.5'));
      await new Promise((done) => setTimeout(done, 3 * backend.shortTtlMs));
      expect(await (await openStore()).listNodeStatus()).toEqual([nodeStatus('10.0.0.5')]);
    });

    it('refuses node ids that are not usable in keys', async () => {
      const store = await openStore();
      expect(await rejectionOf(store.registerNode({ node_id: '../x', started: 1, version: '0.1.0' }))).toBeInstanceOf(InvalidNameError);
      expect(await rejectionOf(store.putNodeStatus(nodeStatus('a/b')))).toBeInstanceOf(InvalidNameError);
    });
  });

  describe('formats', () => {
    it('are stored by name', async () => {
      const store = await openStore();
      await store.putFormat('short', '{{name}}: {{text}}');
      await store.putFormat('bare', '{{text}}');
      expect(await (await openStore()).listFormats()).toEqual({ bare: '{{text}}', short: '{{name}}: {{text}}' });
      expect(await rejectionOf(store.putFormat('a b', '{{text}}'))).toBeInstanceOf(InvalidNameError);
    });

    it('are deleted by name, saying whether the format existed', async () => {
      const store = await openStore();
      await store.putFormat('short', '{{name}}: {{text}}');
      expect(await store.deleteFormat('short')).toBe(true);
      expect(await store.deleteFormat('short')).toBe(false);
      expect(await store.listFormats()).toEqual({});
    });

    it('are watched: the current set at once, then changes made by another store', async () => {
      const writer = await openStore();
      await writer.putFormat('short', '{{name}}: {{text}}');
      const deliveries: Array<Record<string, string>> = [];
      const watch = await (await openStore()).watchFormats((formats) => deliveries.push(formats));
      expect(deliveries).toEqual([{ short: '{{name}}: {{text}}' }]);

      await writer.putFormat('short', '{{text}}');
      await writer.putFormat('alert', '!! {{text}}');
      await vi.waitFor(() => expect(deliveries.at(-1)).toEqual({ alert: '!! {{text}}', short: '{{text}}' }), { timeout: WATCH_DEADLINE_MS });
      await writer.deleteFormat('short');
      await vi.waitFor(() => expect(deliveries.at(-1)).toEqual({ alert: '!! {{text}}' }), { timeout: WATCH_DEADLINE_MS });
      await watch.close();
    });
  });

  describe('tenants', () => {
    const HASH_A = 'a'.repeat(64);
    const HASH_B = 'b'.repeat(64);

    it('are stored by name with their prefixes, hash and creation time, and deleted by name', async () => {
      const store = await openStore();
      await store.putTenant({ name: 'acme', prefixes: ['apptail.app1', 'app.acme'], token_sha256: HASH_A, created: 1_700_000_000 });
      await store.putTenant({ name: 'beta', prefixes: ['apptail.app2'], token_sha256: HASH_B, created: 1_700_000_001 });
      const reader = await openStore();
      expect(await reader.listTenants()).toEqual([
        { name: 'acme', prefixes: ['apptail.app1', 'app.acme'], token_sha256: HASH_A, created: 1_700_000_000 },
        { name: 'beta', prefixes: ['apptail.app2'], token_sha256: HASH_B, created: 1_700_000_001 },
      ]);
      expect((await reader.getTenant('beta'))?.prefixes).toEqual(['apptail.app2']);
      expect(await reader.getTenant('gamma')).toBeUndefined();
      expect(await store.deleteTenant('beta')).toBe(true);
      expect(await store.deleteTenant('beta')).toBe(false);
      expect((await reader.listTenants()).map((t) => t.name)).toEqual(['acme']);
    });

    it('refuses bad names, prefixes that are not whole key segments, and no prefix', async () => {
      const store = await openStore();
      const tenant = { name: 'acme', prefixes: ['apptail.app1'], token_sha256: HASH_A, created: 1 };
      expect(await rejectionOf(store.putTenant({ ...tenant, name: 'a.b' }))).toBeInstanceOf(InvalidNameError);
      expect(await rejectionOf(store.putTenant({ ...tenant, prefixes: ['apptail.'] }))).toBeInstanceOf(InvalidNameError);
      expect(await rejectionOf(store.putTenant({ ...tenant, prefixes: [] }))).toBeInstanceOf(InvalidNameError);
      expect(await rejectionOf(store.getTenant('../x'))).toBeInstanceOf(InvalidNameError);
      expect(await store.listTenants()).toEqual([]);
    });

    it('are watched: the current set at once, then changes made by another store', async () => {
      const writer = await openStore();
      await writer.putTenant({ name: 'acme', prefixes: ['apptail.app1'], token_sha256: HASH_A, created: 1 });
      const deliveries: string[][] = [];
      const watch = await (await openStore()).watchTenants((tenants) => deliveries.push(tenants.map((t) => `${t.name}:${t.token_sha256[0]}`)));
      expect(deliveries).toEqual([['acme:a']]);
      await writer.putTenant({ name: 'acme', prefixes: ['apptail.app1'], token_sha256: HASH_B, created: 1 });
      await vi.waitFor(() => expect(deliveries.at(-1)).toEqual(['acme:b']), { timeout: WATCH_DEADLINE_MS });
      await writer.deleteTenant('acme');
      await vi.waitFor(() => expect(deliveries.at(-1)).toEqual([]), { timeout: WATCH_DEADLINE_MS });
      await watch.close();
    });

    it('keep a drain token in the drain entry', async () => {
      const store = await openStore();
      await store.putDrain('tenant.acme.mine', 'tcp://10.0.0.9:514', { token: 'd.0b7c3c9e-1f7e-4bb0-9a54-0d6e1c2f3a4b' });
      expect((await (await openStore()).getDrain('tenant.acme.mine'))?.token).toBe('d.0b7c3c9e-1f7e-4bb0-9a54-0d6e1c2f3a4b');
    });
  });

  describe('close', () => {
    it('may be called twice, removes what lived only while this store refreshed it, and ends the API', async () => {
      const node = await openStore(true);
      await node.registerNode({ node_id: '10.0.0.5', started: 1_700_000_000, version: '0.1.0' });
      await node.putNodeStatus(nodeStatus('10.0.0.5'));
      await node.putTemporaryDrain('tmp.tail.a.1', 'tcp://127.0.0.1:4000');
      await node.putDrain('web', 'tcp://10.0.0.9:514');

      await Promise.all([node.close(), node.close()]);
      await node.close();

      const reader = await openStore();
      expect(uris(await reader.listDrains())).toEqual({ web: 'tcp://10.0.0.9:514' });
      expect(await reader.listNodeStatus()).toEqual([]);
      const error = await rejectionOf(node.listDrains());
      expect(error).toBeInstanceOf(StoreError);
      expect(error.message).toBe(`${backend.description()}: the store is closed`);
    });

    it('waits for writes in progress', async () => {
      const store = await openStore();
      const writes = Array.from({ length: 20 }, (_, index) => store.putDrain(`drain-${index}`, 'tcp://10.0.0.9:514'));
      await store.close();
      expect(await (await openStore()).listDrains()).toHaveLength(20);
      await Promise.all(writes);
    });
  });
});
