import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { changedNames, drainList, nodeStatus, uris, latest, rejectionOf, watchFrom } from './helpers.js';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  drainNameProblem,
  InvalidNameError,
  openStore,
  StoreError,
  StoreUnavailableError,
  type DrainRecord,
  type Store,
} from '../src/index.js';
import { FileStore, type FileStoreOptions } from '../src/file-store.js';

/** The built package, for the child process that plays another program using the same store. */
const BUILT_STORE = resolve(dirname(fileURLToPath(import.meta.url)), '../dist/file-store.js');
/** Changes made by another process must reach a watcher within this ("at once", docs/store.md). */
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

describe('drains on disk', () => {
  it('a watch whose listing failed lists again once it can, and delivers what changed meanwhile once, by name', async () => {
    const writer = fileStore();
    await writer.putDrain('kept', 'tcp://10.0.0.9:1');
    await writer.putDrain('changed', 'tcp://10.0.0.9:2');
    await writer.putDrain('removed', 'tcp://10.0.0.9:3');
    const deliveries: Array<{ drains: Record<string, string>; changed: string[] }> = [];
    const errors: string[] = [];
    let recoveries = 0;
    await fileStore().watchDrains(
      (update) => deliveries.push({ drains: uris(drainList(update)), changed: changedNames(update) }),
      (error) => errors.push(error.message),
      () => recoveries++,
    );
    // The drains directory replaced by a file: listing it fails (ENOTDIR) until it is back.
    const drainsDir = join(dir, 'store', 'drains');
    renameSync(drainsDir, `${drainsDir}.away`);
    writeFileSync(drainsDir, 'not a directory');
    // Changed meanwhile, by hand, in the directory put aside (still the one watched): each listing fails.
    writeFileSync(join(`${drainsDir}.away`, 'changed.json'), JSON.stringify({ uri: 'udp://10.0.0.9:4', created: 1_700_000_000 }));
    writeFileSync(join(`${drainsDir}.away`, 'added.json'), JSON.stringify({ uri: 'tcp://10.0.0.9:5', created: 1_700_000_000 }));
    rmSync(join(`${drainsDir}.away`, 'removed.json'));
    await vi.waitFor(() => expect(errors.length).toBeGreaterThan(0), { timeout: 5_000 });
    rmSync(drainsDir);
    renameSync(`${drainsDir}.away`, drainsDir);
    await vi.waitFor(() => expect(recoveries).toBe(1), { timeout: 5_000 });
    await new Promise((done) => setTimeout(done, WATCH_DEADLINE_MS));
    expect(errors[0]).toMatch(/cannot list drains\//);
    expect(deliveries).toEqual([
      { drains: { changed: 'tcp://10.0.0.9:2', kept: 'tcp://10.0.0.9:1', removed: 'tcp://10.0.0.9:3' }, changed: ['changed', 'kept', 'removed'] },
      { drains: { added: 'tcp://10.0.0.9:5', changed: 'udp://10.0.0.9:4', kept: 'tcp://10.0.0.9:1' }, changed: ['added', 'changed', 'removed'] },
    ]);
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

});

describe('a process that dies', () => {
  /** Runs the built store in a child process: a temporary drain, a node entry and its status. */
  async function startCreator(): Promise<ChildProcess> {
    const script = `
      const { FileStore } = await import(process.argv[1]);
      const store = new FileStore(process.argv[2], ${JSON.stringify(SHORT_TTL)});
      await store.putTemporaryDrain('tmp.tail.child.1', 'tcp://127.0.0.1:4000');
      await store.registerNode({ node_id: 'child-node', started: 1700000000, version: '0.1.0' });
      await store.putNodeStatus(${JSON.stringify(nodeStatus('child-node'))});
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
    expect(await observer.listNodeStatus()).toEqual([nodeStatus('child-node')]);

    creator.kill('SIGKILL');
    await once(creator, 'exit');
    const ttlAndWatchDeadline = SHORT_TTL.ttlMs! + WATCH_DEADLINE_MS;
    await vi.waitFor(() => expect(latest(deliveries)).toEqual({}), { timeout: ttlAndWatchDeadline });
    expect(await observer.listDrains()).toEqual([]);
    // The node entry was refreshed on its own timer: it expires within a refresh of the drain.
    await vi.waitFor(async () => expect(await observer.listNodeStatus()).toEqual([]), { timeout: SHORT_TTL.refreshMs! * 2 });

    // Once clearly abandoned, the entries are also removed from disk by whoever reads them.
    await vi.waitFor(
      async () => {
        await observer.listDrains();
        await observer.listNodeStatus();
        expect(readdirSync(join(dir, 'store', 'drains'))).toEqual([]);
        expect(readdirSync(join(dir, 'store', 'nodes'))).toEqual([]);
        expect(readdirSync(join(dir, 'store', 'status'))).toEqual([]);
      },
      { timeout: 2 * ttlAndWatchDeadline, interval: 100 },
    );
  });
});

describe('formats on disk', () => {
  it('are files of {"template"}', async () => {
    await fileStore().putFormat('short', '{{name}}: {{text}}');
    expect(JSON.parse(readFileSync(join(dir, 'store', 'formats', 'short.json'), 'utf8'))).toEqual({ template: '{{name}}: {{text}}' });
  });
});

describe('tenants on disk', () => {
  it('are private files of {"prefixes","token_sha256","created"}; one another tool wrote badly owns nothing and hides no other', async () => {
    const store = fileStore();
    await store.putTenant({ name: 'acme', prefixes: ['apptail.app1'], token_sha256: 'c'.repeat(64), created: 1_700_000_000 });
    const path = join(dir, 'store', 'tenants', 'acme.json');
    expect(JSON.parse(readFileSync(path, 'utf8'))).toEqual({ prefixes: ['apptail.app1'], token_sha256: 'c'.repeat(64), created: 1_700_000_000 });
    expect(statSync(path).mode & 0o777).toBe(0o600);
    writeFileSync(join(dir, 'store', 'tenants', 'bad.json'), '{"prefixes": "apptail.x", "token_sha256": "nothex"}');
    writeFileSync(join(dir, 'store', 'tenants', 'broken.json'), '{not json');
    expect(await store.listTenants()).toEqual([
      { name: 'acme', prefixes: ['apptail.app1'], token_sha256: 'c'.repeat(64), created: 1_700_000_000 },
      { name: 'bad', prefixes: [], token_sha256: '', created: 0, problem: 'tenants/bad.json: "prefixes" must be a list of key prefixes' },
      { name: 'broken', prefixes: [], token_sha256: '', created: 0, problem: 'tenants/broken.json: not valid JSON' },
    ]);
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
      ['etcd://', 'etcds://user:secret@10.0.0.1:2379?foo=bar', 'redis://127.0.0.1', 'file://relative/dir', '/var/lib/logyard'].map(
        async (uri) => {
          const error = await rejectionOf(openStore(uri));
          expect(error).toBeInstanceOf(StoreError);
          return error.message;
        },
      ),
    );
    expect(messages).toEqual([
      'etcd:// must be followed by host:port (e.g. etcd://10.0.0.1:2379)',
      'etcds store URI: unknown param "foo" (etcds takes ca, cert and key)',
      'a store URI must start with file://, etcd:// or etcds://',
      'a file store needs an absolute directory: file:///path, not file://relative/dir',
      'a store URI must start with file://, etcd:// or etcds://',
    ]);
  });
});

describe('the layout on disk', () => {
  it('is readable by another version of the program', async () => {
    // Written as docs/store.md lays it out, without the store's help.
    const root = join(dir, 'store');
    mkdirSync(join(root, 'drains'), { recursive: true });
    mkdirSync(join(root, 'nodes'));
    mkdirSync(join(root, 'status'));
    mkdirSync(join(root, 'formats'));
    const later = Date.now() / 1000 + 60;
    writeFileSync(join(root, 'drains', 'web.json'), JSON.stringify({ uri: 'tcp://10.0.0.9:514', created: 1_700_000_000 }));
    writeFileSync(join(root, 'drains', 'tmp.tail.x.1.json'), JSON.stringify({ uri: 'tcp://h:1', created: 1_700_000_000, expires: later }));
    writeFileSync(join(root, 'nodes', 'n1.json'), JSON.stringify({ started: 1_700_000_000, version: '0.1.0', expires: later }));
    writeFileSync(join(root, 'status', 'n1.json'), JSON.stringify({ updated: 1_700_000_000, drains: { web: nodeStatus('n1').drains.web } }));
    writeFileSync(join(root, 'formats', 'short.json'), JSON.stringify({ template: '{{text}}' }));

    const store = fileStore();
    expect(await store.listDrains()).toEqual([
      { name: 'tmp.tail.x.1', uri: 'tcp://h:1', created: 1_700_000_000, temporary: true },
      { name: 'web', uri: 'tcp://10.0.0.9:514', created: 1_700_000_000 },
    ]);
    expect(await store.listNodeStatus()).toEqual([nodeStatus('n1')]);
    expect(await store.listFormats()).toEqual({ short: '{{text}}' });
  });
});
