import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Publisher } from '@logyard/bus';
import { TcpTarget, TestNode, until } from './helpers/cli.js';
import { etcdctl, startEtcd, type RunningEtcd } from './setup/services.js';

/**
 * Store entries written by hand (docs/store.md): an admin's own tooling writes etcd with etcdctl,
 * or files into the store's directory. A bad one breaks only itself: it is reported (a FATAL drain,
 * or one log line naming its key) and every other drain runs on, its status written as usual.
 */
interface Backend {
  name: string;
  setup(): Promise<string | undefined>;
  /** Writes an entry as another tool would; `name` may be anything, even empty. */
  write(node: TestNode, name: string, value: string): Promise<void>;
  /** The entry's key as messages name it. */
  key(name: string): string;
  teardown(): Promise<void>;
}

let etcd: RunningEtcd | undefined;
const backends: Backend[] = [
  {
    name: 'file',
    setup: async () => undefined,
    async write(node, name, value) {
      mkdirSync(join(node.stateDir, 'store', 'drains'), { recursive: true });
      writeFileSync(join(node.stateDir, 'store', 'drains', `${name}.json`), value);
    },
    key: (name) => `drains/${name}.json`,
    teardown: async () => undefined,
  },
  {
    name: 'etcd',
    async setup() {
      etcd = await startEtcd();
      return etcd.uri;
    },
    async write(_node, name, value) {
      await etcdctl(etcd!.endpoint, ['put', `/logyard/drains/${name}`, value]);
    },
    key: (name) => `/logyard/drains/${name}`,
    teardown: async () => etcd?.stop(),
  },
];

describe.each(backends)('hand-written entries in the $name store', (backend) => {
  let node: TestNode;
  const targets: TcpTarget[] = [];
  let publisher: Publisher | undefined;

  beforeAll(async () => {
    node = new TestNode('entries-node', await backend.setup());
    await node.startCore();
  });

  afterAll(async () => {
    await publisher?.close();
    for (const t of targets) await t.close();
    await node.cleanup();
    await backend.teardown();
  });

  async function target(): Promise<TcpTarget> {
    const t = await new TcpTarget().listen();
    targets.push(t);
    return t;
  }

  async function statusRows(): Promise<Array<{ drain: string; state: string; error?: string }>> {
    const r = await node.cli(['drain', 'status', '--json']);
    expect(r.stderr).toBe('');
    return JSON.parse(r.stdout);
  }

  it('runs {"uri"} without created; a bad key is logged once and hides no other drain or status', async () => {
    const before = await target();
    expect((await node.cli(['drain', 'add', 'aaa-before', `tcp://127.0.0.1:${before.port}`, '-f', 'entries'])).code).toBe(0);
    await until(async () => (await statusRows()).some((r) => r.drain === 'aaa-before' && r.state === 'RUNNING'), 'aaa-before in drain status');

    // Bad keys: they sort before every good name, where they used to stop the status writes.
    const badNames = ['', 'a!bad', 'bad name!'];
    for (const name of badNames) await backend.write(node, name, '{"uri": "tcp://127.0.0.1:9"}');
    // Then, by hand and with the CLI: drains that work, and two whose values do not.
    const handmade = await target();
    await backend.write(node, 'handmade', JSON.stringify({ uri: `tcp://127.0.0.1:${handmade.port}?filter=entries` }));
    await backend.write(node, 'dated', JSON.stringify({ uri: `tcp://127.0.0.1:${handmade.port}?filter=nothing`, created: '2024-05-01T12:00:00Z' }));
    await backend.write(node, 'broken-value', '{"uri": tcp://oops');
    await backend.write(node, 'bad-scheme', '{"uri": "nope://127.0.0.1:9"}');
    const added = await target();
    expect((await node.cli(['drain', 'add', 'zz-new', `tcp://127.0.0.1:${added.port}`, '-f', 'entries'])).code).toBe(0);

    // Every state change reaches drain status within seconds, not only the drains before the bad keys.
    const rows = await until(async () => {
      const current = await statusRows();
      const state = (name: string): string | undefined => current.find((r) => r.drain === name)?.state;
      const settled =
        state('handmade') === 'RUNNING' &&
        state('dated') === 'RUNNING' &&
        state('zz-new') === 'RUNNING' &&
        state('broken-value') === 'FATAL' &&
        state('bad-scheme') === 'FATAL';
      return settled ? current : null;
    }, 'every drain in drain status', 5_000);
    expect(rows.map((r) => r.drain)).toEqual(['aaa-before', 'bad-scheme', 'broken-value', 'dated', 'handmade', 'zz-new']);
    expect(rows.find((r) => r.drain === 'broken-value')?.error).toBe(`${backend.key('broken-value')}: not valid JSON`);
    expect(rows.find((r) => r.drain === 'bad-scheme')?.error).toMatch(/nope/);

    // The hand-written drain carries events like any other.
    publisher = new Publisher({ runDir: node.runDir, nodeId: node.nodeId });
    publisher.publish('entries.web', 'to every drain');
    await until(() => [before, handmade, added].every((t) => t.events.some((e) => e.text === 'to every drain')), 'the event at every target');

    // One line per bad key, once, and no store outage.
    await new Promise((r) => setTimeout(r, 2_000));
    for (const name of badNames) {
      const lines = node.coreLog.split('\n').filter((line) => line.includes(`store entry ${backend.key(name)}: `));
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(/ WARN store entry .*: drain name (is empty|".*" may only contain \[A-Za-z0-9_.-\]); not run as a drain$/);
    }
    expect(node.coreLog).not.toContain('store failing');

    // drain list shows what it can read: the URI of each, and why the bad ones do not run.
    const list = await node.cli(['drain', 'list']);
    expect(list.code).toBe(0);
    expect(list.stdout).toMatch(new RegExp(`^handmade\\s+tcp://127\\.0\\.0\\.1:${handmade.port}\\?filter=entries$`, 'm'));
    expect(list.stdout).toMatch(new RegExp(`^dated\\s+tcp://127\\.0\\.0\\.1:${handmade.port}\\?filter=nothing$`, 'm'));
    const lines = list.stdout.split('\n').map((line) => line.split(/\s{2,}/));
    expect(lines).toContainEqual(['a!bad', 'tcp://127.0.0.1:9', `(cannot run: ${backend.key('a!bad')}: drain name "a!bad" may only contain [A-Za-z0-9_.-])`]);
    expect(lines).toContainEqual(['', 'tcp://127.0.0.1:9', `(cannot run: ${backend.key('')}: drain name is empty)`]);
    expect(list.stdout).toMatch(/^broken-value\s+\(cannot run: .*not valid JSON\)$/m);
  });
});
