import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  drainNameProblem,
  FileStore,
  InvalidNameError,
  openStore,
  StoreError,
  StoreUnavailableError,
  type DrainRecord,
  type FileStoreOptions,
  type NodeDrainStatus,
  type Store,
} from '../src/index.js';

/** The built package, for the child process that plays another program using the same store. */
const BUILT_STORE = resolve(dirname(fileURLToPath(import.meta.url)), '../dist/index.js');
/** Changes made by another process must reach a watcher within this (SPEC: "at once"). */
const WATCH_DEADLINE_MS = 1_000;
const SHORT_TTL: FileStoreOptions = { ttlMs: 1_000, refreshMs: 200 };

let dir: string;
const openedStores: Store[] = [];
const children: ChildProcess[] = [];

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'logyard-store-'));
});

afterEach(async () => {
  for (const child of children.splice(0)) {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await once(child, 'exit');
    }
  }
  await Promise.all(openedStores.splice(0).map((store) => store.close()));
  rmSync(dir, { recursive: true, force: true });
});

/** A store on the test directory; each one stands for a separate process sharing it. */
function fileStore(options: FileStoreOptions = {}): FileStore {
  const store = new FileStore(join(dir, 'store'), options);
  openedStores.push(store);
  return store;
}

function status(drain: string, nodeId: string): NodeDrainStatus {
  return { drain, node_id: nodeId, state: 'RUNNING', sent: 12, dropped: { buffer_full: 3 }, buffered: 0, updated: 1_700_000_000 };
}

/** Every set a watch delivered, in order. */
async function watchFrom(store: Store): Promise<DrainRecord[][]> {
  const deliveries: DrainRecord[][] = [];
  await store.watchDrains((drains) => deliveries.push(drains));
  return deliveries;
}

function uris(drains: DrainRecord[]): Record<string, string> {
  return Object.fromEntries(drains.map((drain) => [drain.name, drain.uri]));
}

function latest(deliveries: DrainRecord[][]): Record<string, string> | undefined {
  const last = deliveries.at(-1);
  return last && uris(last);
}

async function rejectionOf(promise: Promise<unknown>): Promise<Error> {
  return promise.then(
    () => {
      throw new Error('expected a rejection');
    },
    (err: Error) => err,
  );
}

describe('drains', () => {
  it('adds, lists sorted by name, gets and deletes drains', async () => {
    const store = fileStore();
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
    const store = fileStore();
    await store.putDrain('web', 'tcp://10.0.0.9:514');
    const first = await store.getDrain('web');
    await store.putDrain('web', 'udp://10.0.0.9:514');
    const drains = await store.listDrains();
    expect(drains).toHaveLength(1);
    expect(drains[0].uri).toBe('udp://10.0.0.9:514');
    expect(drains[0].created).toBeGreaterThanOrEqual(first!.created);
  });

  it('is shared by every store opened on the same directory', async () => {
    await fileStore().putDrain('web', 'tcp://10.0.0.9:514');
    expect(uris(await fileStore().listDrains())).toEqual({ web: 'tcp://10.0.0.9:514' });
  });

  it('keeps drains in private files, as {"uri","created"}, leaving no temporary files', async () => {
    const store = fileStore();
    await store.putDrain('web', 'tcp://10.0.0.9:514');
    const root = join(dir, 'store');
    const file = join(root, 'drains', 'web.json');
    const content = JSON.parse(readFileSync(file, 'utf8'));
    expect(Object.keys(content).sort()).toEqual(['created', 'uri']);
    expect(content.uri).toBe('tcp://10.0.0.9:514');
    expect(statSync(root).mode & 0o777).toBe(0o700);
    expect(statSync(join(root, 'drains')).mode & 0o777).toBe(0o700);
    expect(statSync(file).mode & 0o077).toBe(0);
    expect(readdirSync(join(root, 'drains'))).toEqual(['web.json']);
  });

  it('lists an unreadable drain file with its problem instead of failing', async () => {
    const store = fileStore();
    await store.putDrain('good', 'tcp://10.0.0.9:514');
    const drainsDir = join(dir, 'store', 'drains');
    writeFileSync(join(drainsDir, 'broken.json'), '{"uri": "tcp://');
    writeFileSync(join(drainsDir, 'nouri.json'), '{"created": 1700000000}');

    const drains = await store.listDrains();
    expect(drains.map((drain) => [drain.name, drain.uri, drain.problem])).toEqual([
      ['broken', '', 'drains/broken.json: not valid JSON'],
      ['good', 'tcp://10.0.0.9:514', undefined],
      ['nouri', '', 'drains/nouri.json: "uri" must be a non-empty string'],
    ]);
    expect((await store.getDrain('broken'))?.problem).toBe('drains/broken.json: not valid JSON');
    expect(await store.deleteDrain('broken')).toBe(true);
    expect((await store.listDrains()).map((drain) => drain.name)).toEqual(['good', 'nouri']);
  });
});

describe('drain names', () => {
  it('follow SPEC section 3', () => {
    expect(drainNameProblem('web-1.prod_eu')).toBeNull();
    expect(drainNameProblem('x'.repeat(128))).toBeNull();
    expect(drainNameProblem('x'.repeat(129))).toBe('drain name is longer than 128 bytes');
    expect(drainNameProblem('')).toBe('drain name is empty');
    expect(drainNameProblem('my drain')).toBe('drain name "my drain" may only contain [A-Za-z0-9_.-]');
    expect(drainNameProblem('a/b')).toBe('drain name "a/b" may only contain [A-Za-z0-9_.-]');
    expect(drainNameProblem('..')).toBe('drain name must not be ".."');
  });

  it('are checked by every drain operation', async () => {
    const store = fileStore();
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
    const store = fileStore();
    const error = await rejectionOf(store.putDrain('builtin.apptail', 'redis://127.0.0.1:6379'));
    expect(error).toBeInstanceOf(InvalidNameError);
    expect(error.message).toBe('drain "builtin.apptail" is builtin: builtin.* drains are defined by the config file');
    expect(await rejectionOf(store.deleteDrain('builtin.apptail'))).toBeInstanceOf(InvalidNameError);
  });
});

describe('watching drains', () => {
  it('delivers the current set at once, then changes made by another store', async () => {
    const writer = fileStore();
    await writer.putDrain('web', 'tcp://10.0.0.9:514');
    const deliveries = await watchFrom(fileStore());
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

  it('sees a drain file written by hand', async () => {
    const deliveries = await watchFrom(fileStore());
    writeFileSync(join(dir, 'store', 'drains', 'manual.json'), JSON.stringify({ uri: 'tcp://10.0.0.9:514', created: 1_700_000_000 }));
    await vi.waitFor(() => expect(latest(deliveries)).toEqual({ manual: 'tcp://10.0.0.9:514' }), { timeout: WATCH_DEADLINE_MS });
  });

  it('stops delivering once closed', async () => {
    const writer = fileStore();
    const deliveries: DrainRecord[][] = [];
    const watch = await fileStore().watchDrains((drains) => deliveries.push(drains));
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
    const creator = fileStore(SHORT_TTL);
    const deliveries = await watchFrom(fileStore());
    const handle = await creator.putTemporaryDrain('tmp.tail.a.1', 'tcp://127.0.0.1:4000');
    await vi.waitFor(() => expect(latest(deliveries)).toEqual({ 'tmp.tail.a.1': 'tcp://127.0.0.1:4000' }), { timeout: WATCH_DEADLINE_MS });
    expect(deliveries.at(-1)![0].temporary).toBe(true);
    const deliveredSoFar = deliveries.length;

    // Three TTLs: without its refreshes it would long be gone.
    await new Promise((done) => setTimeout(done, 3 * SHORT_TTL.ttlMs!));
    expect(uris(await fileStore().listDrains())).toEqual({ 'tmp.tail.a.1': 'tcp://127.0.0.1:4000' });
    // Refreshing rewrites the file but changes nothing a user sees, so nothing is delivered.
    expect(deliveries).toHaveLength(deliveredSoFar);

    await handle.release();
    await handle.release();
    await vi.waitFor(() => expect(latest(deliveries)).toEqual({}), { timeout: WATCH_DEADLINE_MS });
    expect(existsSync(join(dir, 'store', 'drains', 'tmp.tail.a.1.json'))).toBe(false);
  });

  it('are left alone by release() when someone replaced them meanwhile', async () => {
    const handle = await fileStore(SHORT_TTL).putTemporaryDrain('tmp.tail.a.1', 'tcp://127.0.0.1:4000');
    await fileStore().putDrain('tmp.tail.a.1', 'tcp://127.0.0.1:5000');
    await handle.release();
    const [drain] = await fileStore().listDrains();
    expect(drain).toMatchObject({ name: 'tmp.tail.a.1', uri: 'tcp://127.0.0.1:5000' });
    expect(drain.temporary).toBeUndefined();
  });
});

describe('a process that dies', () => {
  /** Runs the built store in a child process: a temporary drain, a node entry and its status. */
  async function startCreator(): Promise<ChildProcess> {
    const script = `
      const { FileStore } = await import(process.argv[1]);
      const store = new FileStore(process.argv[2], ${JSON.stringify(SHORT_TTL)});
      await store.putTemporaryDrain('tmp.tail.child.1', 'tcp://127.0.0.1:4000');
      await store.registerNode({ node_id: 'child-node', started: 1700000000, version: '0.1.0' });
      await store.putStatus(${JSON.stringify(status('web', 'child-node'))});
      console.log('ready');
      setInterval(() => {}, 60_000);
    `;
    const child = spawn(process.execPath, ['--input-type=module', '-e', script, BUILT_STORE, join(dir, 'store')], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    children.push(child);
    const lines = createInterface({ input: child.stdout! });
    const [line] = await Promise.race([once(lines, 'line'), once(child, 'exit').then(() => ['exited'])]);
    expect(line).toBe('ready');
    return child;
  }

  it('loses its temporary drains, node entry and status within the TTL', async () => {
    const observer = fileStore(SHORT_TTL);
    const deliveries = await watchFrom(observer);
    const creator = await startCreator();
    await vi.waitFor(() => expect(latest(deliveries)).toEqual({ 'tmp.tail.child.1': 'tcp://127.0.0.1:4000' }), {
      timeout: WATCH_DEADLINE_MS,
    });
    expect(await observer.listStatus()).toEqual([status('web', 'child-node')]);

    creator.kill('SIGKILL');
    await once(creator, 'exit');
    const ttlAndWatchDeadline = SHORT_TTL.ttlMs! + WATCH_DEADLINE_MS;
    await vi.waitFor(() => expect(latest(deliveries)).toEqual({}), { timeout: ttlAndWatchDeadline });
    expect(await observer.listDrains()).toEqual([]);
    expect(await observer.listStatus()).toEqual([]);

    // Once clearly abandoned, the entries are also removed from disk by whoever reads them.
    await vi.waitFor(
      async () => {
        await observer.listDrains();
        await observer.listStatus();
        expect(readdirSync(join(dir, 'store', 'drains'))).toEqual([]);
        expect(readdirSync(join(dir, 'store', 'nodes'))).toEqual([]);
        expect(readdirSync(join(dir, 'store', 'status'))).toEqual([]);
      },
      { timeout: 2 * ttlAndWatchDeadline, interval: 100 },
    );
  });
});

describe('nodes and status', () => {
  it('lists the status of registered nodes only, sorted by drain and node', async () => {
    const node = fileStore(SHORT_TTL);
    await node.registerNode({ node_id: '10.0.0.5', started: 1_700_000_000, version: '0.1.0' });
    await node.putStatus(status('web', '10.0.0.5'));
    await node.putStatus(status('archive', '10.0.0.5'));
    await node.putStatus(status('web', 'unregistered-node'));

    const reader = fileStore();
    expect(await reader.listStatus()).toEqual([status('archive', '10.0.0.5'), status('web', '10.0.0.5')]);

    await node.putStatus({ ...status('web', '10.0.0.5'), state: 'RETRYING', error: 'connection refused' });
    await node.deleteStatus('archive', '10.0.0.5');
    expect(await reader.listStatus()).toEqual([{ ...status('web', '10.0.0.5'), state: 'RETRYING', error: 'connection refused' }]);
  });

  it('keeps a registered node alive past its TTL while the store is open', async () => {
    const node = fileStore(SHORT_TTL);
    await node.registerNode({ node_id: '10.0.0.5', started: 1_700_000_000, version: '0.1.0' });
    await node.putStatus(status('web', '10.0.0.5'));
    await new Promise((done) => setTimeout(done, 3 * SHORT_TTL.ttlMs!));
    expect(await fileStore().listStatus()).toEqual([status('web', '10.0.0.5')]);
  });

  it('refuses node ids that are not usable in keys', async () => {
    const store = fileStore();
    expect(await rejectionOf(store.registerNode({ node_id: '../x', started: 1, version: '0.1.0' }))).toBeInstanceOf(InvalidNameError);
    expect(await rejectionOf(store.putStatus(status('web', 'a/b')))).toBeInstanceOf(InvalidNameError);
  });
});

describe('formats', () => {
  it('are stored by name', async () => {
    const store = fileStore();
    await store.putFormat('short', '{{name}}: {{text}}');
    await store.putFormat('bare', '{{text}}');
    expect(await fileStore().listFormats()).toEqual({ bare: '{{text}}', short: '{{name}}: {{text}}' });
    expect(JSON.parse(readFileSync(join(dir, 'store', 'formats', 'short.json'), 'utf8'))).toEqual({ template: '{{name}}: {{text}}' });
    expect(await rejectionOf(store.putFormat('a b', '{{text}}'))).toBeInstanceOf(InvalidNameError);
  });
});

describe('close', () => {
  it('may be called twice, removes what lived only while this store refreshed it, and ends the API', async () => {
    const node = fileStore(SHORT_TTL);
    await node.registerNode({ node_id: '10.0.0.5', started: 1_700_000_000, version: '0.1.0' });
    await node.putStatus(status('web', '10.0.0.5'));
    await node.putTemporaryDrain('tmp.tail.a.1', 'tcp://127.0.0.1:4000');
    await node.putDrain('web', 'tcp://10.0.0.9:514');

    await Promise.all([node.close(), node.close()]);
    await node.close();

    const reader = fileStore();
    expect(uris(await reader.listDrains())).toEqual({ web: 'tcp://10.0.0.9:514' });
    expect(await reader.listStatus()).toEqual([]);
    const error = await rejectionOf(node.listDrains());
    expect(error).toBeInstanceOf(StoreError);
    expect(error.message).toBe(`file://${join(dir, 'store')}: the store is closed`);
  });

  it('waits for writes in progress', async () => {
    const store = fileStore();
    const writes = Array.from({ length: 20 }, (_, index) => store.putDrain(`drain-${index}`, 'tcp://10.0.0.9:514'));
    await store.close();
    expect(await fileStore().listDrains()).toHaveLength(20);
    await Promise.all(writes);
  });
});

describe('an unusable directory', () => {
  it('makes operations fail with StoreUnavailableError naming the store', async () => {
    const notADirectory = join(dir, 'file');
    writeFileSync(notADirectory, '');
    const store = new FileStore(notADirectory);
    openedStores.push(store);
    const attempts = [() => store.listDrains(), () => store.putDrain('web', 'tcp://10.0.0.9:514'), () => store.watchDrains(() => undefined)];
    for (const attempt of attempts) {
      const error = await rejectionOf(attempt());
      expect(error).toBeInstanceOf(StoreUnavailableError);
      expect(error.message).toMatch(new RegExp(`^file://${notADirectory}: cannot `));
    }
  });
});

describe('openStore', () => {
  it('opens a file store from a file:// URI', async () => {
    const store = await openStore(`file://${join(dir, 'store')}`);
    openedStores.push(store);
    expect(store.description).toBe(`file://${join(dir, 'store')}`);
    await store.putDrain('web', 'tcp://10.0.0.9:514');
    expect(uris(await fileStore().listDrains())).toEqual({ web: 'tcp://10.0.0.9:514' });
  });

  it('refuses what it cannot open', async () => {
    const messages = await Promise.all(
      ['etcd://10.0.0.1:2379', 'etcds://user:secret@10.0.0.1:2379', 'redis://127.0.0.1', 'file://relative/dir', '/var/lib/logyard'].map(
        async (uri) => {
          const error = await rejectionOf(openStore(uri));
          expect(error).toBeInstanceOf(StoreError);
          return error.message;
        },
      ),
    );
    expect(messages).toEqual([
      'etcd store is not built yet',
      'etcd store is not built yet',
      'a store URI must start with file://, etcd:// or etcds://',
      'a file store needs an absolute directory: file:///path, not file://relative/dir',
      'a store URI must start with file://, etcd:// or etcds://',
    ]);
  });
});

describe('the layout on disk', () => {
  it('is readable by another version of the program', async () => {
    // Written as SPEC section 3 lays it out, without the store's help.
    const root = join(dir, 'store');
    mkdirSync(join(root, 'drains'), { recursive: true });
    mkdirSync(join(root, 'nodes'));
    mkdirSync(join(root, 'status', 'web'), { recursive: true });
    mkdirSync(join(root, 'formats'));
    const later = Date.now() / 1000 + 60;
    writeFileSync(join(root, 'drains', 'web.json'), JSON.stringify({ uri: 'tcp://10.0.0.9:514', created: 1_700_000_000 }));
    writeFileSync(join(root, 'drains', 'tmp.tail.x.1.json'), JSON.stringify({ uri: 'tcp://h:1', created: 1_700_000_000, expires: later }));
    writeFileSync(join(root, 'nodes', 'n1.json'), JSON.stringify({ started: 1_700_000_000, version: '0.1.0', expires: later }));
    writeFileSync(join(root, 'status', 'web', 'n1.json'), JSON.stringify(status('web', 'n1')));
    writeFileSync(join(root, 'formats', 'short.json'), JSON.stringify({ template: '{{text}}' }));

    const store = fileStore();
    expect(await store.listDrains()).toEqual([
      { name: 'tmp.tail.x.1', uri: 'tcp://h:1', created: 1_700_000_000, temporary: true },
      { name: 'web', uri: 'tcp://10.0.0.9:514', created: 1_700_000_000 },
    ]);
    expect(await store.listStatus()).toEqual([status('web', 'n1')]);
    expect(await store.listFormats()).toEqual({ short: '{{text}}' });
  });
});
