import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { Etcd3 } from 'etcd3';
import { Publisher } from '@logyard/bus';
import { LOGYARD_BIN, TcpTarget, TestNode, until } from './helpers/cli.js';
import { startEtcd, type RunningEtcd } from './setup/services.js';

/** A running `logyard tail`, its output collected line by line as a user's terminal would get it. */
class TailProcess {
  readonly child: ChildProcess;
  stdout = '';
  stderr = '';
  /** The temporary drain's name, from the tail's first line on stderr. */
  drain = '';

  constructor(node: TestNode, args: string[], options: { paused?: boolean } = {}) {
    this.child = spawn(process.execPath, [LOGYARD_BIN, ...node.flags, 'tail', ...args], {
      env: { ...process.env, LOGYARD_CONFIG: '' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child.stderr!.setEncoding('utf8').on('data', (c: string) => (this.stderr += c));
    this.child.stdout!.setEncoding('utf8').on('data', (c: string) => (this.stdout += c));
    if (options.paused) this.child.stdout!.pause();
  }

  get lines(): string[] {
    return this.stdout.split('\n').filter((l) => l !== '');
  }

  async started(): Promise<string> {
    await until(() => {
      if (this.child.exitCode !== null) throw new Error(`tail exited with ${this.child.exitCode}: ${this.stderr}`);
      return /through drain (tmp\.tail\.\S+)/.test(this.stderr);
    }, 'the tail to add its drain');
    this.drain = /through drain (tmp\.tail\.\S+)/.exec(this.stderr)![1];
    return this.drain;
  }

  async stop(signal: NodeJS.Signals): Promise<number | null> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return this.child.exitCode;
    const exited = new Promise<number | null>((r) => this.child.once('exit', (code) => r(code)));
    this.child.kill(signal);
    return exited;
  }
}

/**
 * `logyard tail` (issue 5) on a cluster: one real etcd, two real cores, the real command.
 * This file starts its own etcd, since the store layout in etcd is fixed.
 */
describe('logyard tail on a cluster of two nodes', () => {
  let etcd: RunningEtcd;
  let admin: Etcd3;
  let a: TestNode;
  let b: TestNode;
  const tails: TailProcess[] = [];
  const publishers: Publisher[] = [];

  beforeAll(async () => {
    etcd = await startEtcd();
    admin = new Etcd3({ hosts: etcd.endpoint });
    a = new TestNode('node-a', etcd.uri);
    b = new TestNode('node-b', etcd.uri);
    await Promise.all([a.startCore(), b.startCore()]);
  });

  afterAll(async () => {
    for (const t of tails) await t.stop('SIGKILL');
    for (const p of publishers) await p.close();
    await Promise.all([a, b].map((n) => n?.cleanup()));
    admin?.close();
    await etcd?.stop();
  });

  function publisher(node: TestNode): Publisher {
    const p = new Publisher({ runDir: node.runDir, nodeId: node.nodeId });
    publishers.push(p);
    return p;
  }

  async function tail(args: string[], options: { paused?: boolean } = {}): Promise<TailProcess> {
    const t = new TailProcess(a, ['--listen', '127.0.0.1', ...args], options);
    tails.push(t);
    const drain = await t.started();
    await until(async () => (await a.drainStatus(drain))?.state === 'RUNNING' && (await b.drainStatus(drain))?.state === 'RUNNING', `${drain} RUNNING on both nodes`);
    return t;
  }

  async function storedDrains(): Promise<string[]> {
    return (await admin.getAll().prefix('/logyard/drains/').keys()).map((k) => k.slice('/logyard/drains/'.length));
  }

  it('prints the events of both nodes in the systail format, and none of another prefix', async () => {
    const t = await tail([]);
    expect(await storedDrains()).toEqual([t.drain]);
    expect(t.drain).toMatch(/^tmp\.tail\.node-a\.\d+$/);
    for (const node of [a, b]) {
      const p = publisher(node);
      p.publish('apptail.other', { text: `not for the tail from ${node.nodeId}` });
      p.publish(`systail.nginx.${node.nodeId}`, { text: `hello from ${node.nodeId}`, name: 'nginx' });
    }
    await until(() => t.lines.length >= 2, 'both events in the tail');
    expect(t.lines.sort()).toEqual(['nginx@node-a: hello from node-a', 'nginx@node-b: hello from node-b']);
    expect(t.stdout).not.toContain('not for the tail');
  });

  it('prints apptail events as human_time source.instance_index: text, and keeps one node with --node', async () => {
    const t = await tail(['apptail', '--node', 'node-b']);
    for (const node of [a, b]) {
      publisher(node).publish('apptail.app1', { text: `started on ${node.nodeId}`, app_id: 'app1', source: 'stdout', instance_index: 3, human_time: '2026-11-20T10:00:00.000+00:00' });
    }
    await until(() => t.lines.length >= 1, 'the apptail event of node-b');
    // node-a's event was published at the same time; a marker after it shows it was left out.
    publisher(b).publish('apptail.app1', { text: 'marker', source: 'stderr', instance_index: 0, human_time: '2026-11-20T10:00:01.000+00:00' });
    await until(() => t.lines.length >= 2, 'the marker');
    expect(t.lines).toEqual(['2026-11-20T10:00:00.000+00:00 stdout.3: started on node-b', '2026-11-20T10:00:01.000+00:00 stderr.0: marker']);
  });

  it('prints JSON with --json and KEY JSON with --raw', async () => {
    const json = await tail(['event', '--json']);
    const raw = await tail(['event', '--raw']);
    publisher(a).publish('event.oom', { text: 'killed', type: 'oom', desc: 'process killed', severity: 'ERROR' });
    await until(() => json.lines.length >= 1 && raw.lines.length >= 1, 'the event in both tails');
    expect(JSON.parse(json.lines[0])).toMatchObject({ text: 'killed', type: 'oom', node_id: 'node-a' });
    expect(raw.lines[0]).toMatch(/^event\.oom \{.*"desc":"process killed"/);
  });

  it('removes its drain from the store on Ctrl-C, within a second', async () => {
    const t = await tail(['systail']);
    expect(await storedDrains()).toContain(t.drain);
    const code = await t.stop('SIGINT');
    expect(code).toBe(0);
    await until(async () => !(await storedDrains()).includes(t.drain), 'the drain gone from etcd', 1_000);
    await until(async () => !(await a.drainStatus(t.drain)) && !(await b.drainStatus(t.drain)), 'the drain stopped on both cores');
    expect(a.coreLog).not.toMatch(new RegExp(`${t.drain.replace(/\./g, '\\.')}: RETRYING`));
  });

  it('loses its drain with its lease when killed with -9, within 15 s', async () => {
    const t = await tail(['systail']);
    await t.stop('SIGKILL');
    expect(await storedDrains()).toContain(t.drain);
    await until(async () => !(await storedDrains()).includes(t.drain), 'the drain gone with its lease', 15_000);
    const list = await a.cli(['drain', 'list']);
    expect(list.stdout).not.toContain(t.drain);
  });
});

describe('logyard tail on one node', () => {
  const node = new TestNode('tail-node');
  const target = new TcpTarget();
  const tails: TailProcess[] = [];
  let publisher: Publisher;

  beforeAll(async () => {
    await target.listen();
    await node.startCore();
    publisher = new Publisher({ runDir: node.runDir, nodeId: node.nodeId });
  });

  afterAll(async () => {
    for (const t of tails) await t.stop('SIGKILL');
    await publisher?.close();
    await target.close();
    await node.cleanup();
  });

  async function tail(args: string[], options: { paused?: boolean } = {}): Promise<TailProcess> {
    const t = new TailProcess(node, args, options);
    tails.push(t);
    const drain = await t.started();
    await until(async () => (await node.drainStatus(drain))?.state === 'RUNNING', `${drain} RUNNING`);
    return t;
  }

  it('listens on 127.0.0.1 with the file store and applies --format', async () => {
    const t = await tail(['systail', '--format', '{{name}} says {{text}}']);
    const list = await node.cli(['drain', 'list']);
    expect(list.stdout).toMatch(new RegExp(`^${t.drain.replace(/\./g, '\\.')}\\s+tcp://127\\.0\\.0\\.1:\\d+\\?filter=systail&format=raw$`, 'm'));
    publisher.publish('systail.kern.tail-node', { text: 'booted', name: 'kern' });
    await until(() => t.lines.length >= 1, 'the event');
    expect(t.lines).toEqual(['kern says booted']);
    expect(await t.stop('SIGTERM')).toBe(0);
    expect((await node.cli(['drain', 'list'])).stdout).not.toContain(t.drain);
  });

  it('with a reader that does not keep up, drops with the usual notice and slows no other drain', async () => {
    expect((await node.cli(['drain', 'add', 'all', `tcp://127.0.0.1:${target.port}`, '-f', 'flood'])).code).toBe(0);
    await until(async () => (await node.drainStatus('all'))?.state === 'RUNNING', 'drain all RUNNING');
    const t = await tail(['flood', '--raw'], { paused: true });
    // Far more than the drain's buffer (10,000) and the socket buffers between core and reader.
    const total = 150_000;
    const padding = 'x'.repeat(300);
    for (let i = 0; i < total; i++) {
      publisher.publish('flood.load', { text: `event ${i} ${padding}` });
      if (i % 5_000 === 4_999) await publisher.flush(30_000);
    }
    await until(() => target.lines.length === total, 'every event at the other drain', 60_000);
    t.child.stdout!.resume();
    await until(() => /logyard: dropped \d+ events for drain tmp\.tail\.tail-node\.\d+ since/.test(t.stdout), 'the drop notice in the tail', 30_000);
    const dropped = (await node.drainStatus(t.drain)).dropped.buffer_full as number;
    expect(dropped).toBeGreaterThan(0);
    const otherDrain = await node.drainStatus('all');
    expect(Object.values(otherDrain.dropped as Record<string, number>).reduce((sum, n) => sum + n, 0)).toBe(0);
    await t.stop('SIGINT');
  }, 120_000);

  it('refuses an invalid prefix and a bad --format with exit 2', async () => {
    const badPrefix = await node.cli(['tail', 'sys tail']);
    expect(badPrefix.code).toBe(2);
    expect(badPrefix.stderr).toMatch(/^logyard: prefix "sys tail": /);
    const badFormat = await node.cli(['tail', '--format', 'nosuchformat']);
    expect(badFormat.code).toBe(2);
    expect(badFormat.stderr).toMatch(/^logyard: --format: unknown format "nosuchformat"/);
    const both = await node.cli(['tail', '--json', '--raw']);
    expect(both.code).toBe(2);
    expect((await node.cli(['drain', 'list'])).stdout).not.toContain('tmp.tail');
  });
});

describe('logyard tail on a node whose core is not running', () => {
  const node = new TestNode('tail-alone');
  let tail: TailProcess | undefined;
  let publisher: Publisher | undefined;

  afterAll(async () => {
    await tail?.stop('SIGKILL');
    await publisher?.close();
    await node.cleanup();
  });

  it('says that nothing arrives until a core starts, and prints the events once one has', async () => {
    tail = new TailProcess(node, ['app']);
    await tail.started();
    await until(() => tail!.stderr.includes('logyard: note: no core running on '), 'the note');
    expect(tail.stderr).toContain(`logyard: note: no core running on ${node.runDir}: nothing arrives until one starts (logyard start)\n`);
    await node.startCore();
    publisher = new Publisher({ runDir: node.runDir, nodeId: node.nodeId });
    await until(async () => (await node.drainStatus(tail!.drain))?.state === 'RUNNING', 'the tail drain RUNNING');
    publisher.publish('app.web', 'after the core started');
    await until(() => tail!.lines.length >= 1, 'the event');
    expect(tail.lines[0]).toContain('after the core started');
  });
});
