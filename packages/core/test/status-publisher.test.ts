import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { DrainState, NodeStatus } from '@logyard/store';
import { FileStore } from '@logyard/store/file';
import { StatusPublisher } from '../src/status-publisher.js';

/**
 * The core's status document (docs/store.md) written to a real file store: at once on a change of
 * state, at most every few seconds for counters alone, retried after the store failed.
 */
describe('StatusPublisher', () => {
  let dir: string;
  let store: FileStore;
  let publisher: StatusPublisher | undefined;
  let drains: Record<string, DrainState>;
  const failures: string[] = [];
  let written = 0;

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'logyard-status-'));
    store = new FileStore(join(dir, 'store'));
    await store.registerNode({ node_id: 'node-a', started: 1_700_000_000, version: '0.1.0' });
    drains = { web: { state: 'STARTING', sent: 0, dropped: {}, buffered: 0 } };
    failures.length = 0;
    written = 0;
  });

  afterEach(async () => {
    await publisher?.close();
    await publisher?.close();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  function start(countersEveryMs: number, writeGapMs?: number, counterBytesPerSecond?: number): StatusPublisher {
    publisher = new StatusPublisher({
      store,
      nodeId: 'node-a',
      drains: () => structuredClone(drains),
      onFailed: (err) => failures.push((err as Error).message),
      onWritten: () => written++,
      countersEveryMs,
      writeGapMs,
      counterBytesPerSecond,
    });
    return publisher;
  }

  async function stored(): Promise<NodeStatus['drains'] | undefined> {
    return (await store.listNodeStatus())[0]?.drains;
  }

  it('writes the document at start and again at once when a state changes or a drain comes, with the counters when one goes', async () => {
    const p = start(1_500);
    await vi.waitFor(async () => expect(await stored()).toEqual(drains), { timeout: 1_000 });

    drains.web = { ...drains.web, state: 'RUNNING' };
    p.changed();
    await vi.waitFor(async () => expect((await stored())?.web.state).toBe('RUNNING'), { timeout: 1_000 });

    drains.archive = { state: 'FATAL', error: 'bad URI', sent: 0, dropped: {}, buffered: 0 };
    p.changed();
    await vi.waitFor(async () => expect(Object.keys((await stored()) ?? {})).toEqual(['web', 'archive']), { timeout: 1_000 });

    // Readers leave out the rows of a drain no longer in the store: its going waits for the counters.
    await vi.waitFor(() => expect(written).toBe(3), { timeout: 1_000 });
    delete drains.archive;
    p.changed();
    await vi.waitFor(async () => expect(Object.keys((await stored()) ?? {})).toEqual(['web']), { timeout: 3_000 });
    await vi.waitFor(() => expect(written).toBe(4), { timeout: 1_000 });
    expect(failures).toEqual([]);
  });

  it('writes a drain that starts and runs within a few milliseconds once, RUNNING', async () => {
    const p = start(60_000);
    await vi.waitFor(() => expect(written).toBe(1), { timeout: 1_000 });
    drains.added = { state: 'STARTING', sent: 0, dropped: {}, buffered: 0 };
    p.changed();
    await new Promise((resolve) => setTimeout(resolve, 10));
    drains.added = { ...drains.added, state: 'RUNNING' };
    p.changed();
    await vi.waitFor(async () => expect((await stored())?.added?.state).toBe('RUNNING'), { timeout: 1_000 });
    await new Promise((resolve) => setTimeout(resolve, 700));
    expect(written).toBe(2);
  });

  it('writes a drain flapping between states at most once per gap, its last state within a second', async () => {
    const p = start(60_000, 500);
    await vi.waitFor(() => expect(written).toBe(1), { timeout: 1_000 });
    // 40 changes of state in about a second (longer on a busy machine: the bound follows the time taken).
    const began = Date.now();
    for (let i = 0; i < 40; i++) {
      drains.web = { ...drains.web, state: i % 2 ? 'RUNNING' : 'RETRYING' };
      p.changed();
      await new Promise((r) => setTimeout(r, 25));
    }
    expect(written).toBeGreaterThanOrEqual(2);
    expect(written - 1).toBeLessThanOrEqual(Math.ceil((Date.now() - began) / 500));
    drains.web = { ...drains.web, state: 'FATAL', error: 'bad URI' };
    p.changed();
    await vi.waitFor(async () => expect((await stored())?.web.state).toBe('FATAL'), { timeout: 1_000 });
  });

  it('writes counters alone at most once per interval while they keep changing', async () => {
    start(1_000);
    await vi.waitFor(() => expect(written).toBe(1), { timeout: 1_000 });
    // Counters change every 20 ms for 2.5 s (longer on a busy machine: the bound follows the time taken).
    const began = Date.now();
    for (let i = 1; i <= 125; i++) {
      drains.web = { ...drains.web, sent: i };
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(written).toBeGreaterThanOrEqual(2);
    expect(written - 1).toBeLessThanOrEqual(Math.ceil((Date.now() - began) / 1_000));
    // The last counters reach the store once their interval is over.
    await vi.waitFor(async () => expect((await stored())?.web.sent).toBe(125), { timeout: 2_000 });
  });

  it('writes the counters of a large document less often (its byte budget), and a change of state at once all the same', async () => {
    for (let i = 0; i < 200; i++) drains[`drain-${i}`] = { state: 'RUNNING', sent: 0, dropped: {}, buffered: 0 };
    // About 7 KB as stored, at 2 KB/s: counters every 3.5 s or so, not every 100 ms.
    const p = start(100, 500, 2_000);
    await vi.waitFor(() => expect(written).toBe(1), { timeout: 1_000 });
    for (let i = 1; i <= 20; i++) {
      for (const drain of Object.values(drains)) drain.sent = i;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(written).toBe(1);
    drains.web = { ...drains.web, state: 'RETRYING', error: 'connection refused' };
    p.changed();
    await vi.waitFor(async () => expect((await stored())?.web.state).toBe('RETRYING'), { timeout: 1_000 });
    // With the counters of that moment.
    expect((await stored())?.['drain-0'].sent).toBe(20);
  });

  it('builds the document only when a write may be due, not at every tick', async () => {
    let built = 0;
    publisher = new StatusPublisher({
      store,
      nodeId: 'node-a',
      drains: () => (built++, structuredClone(drains)),
      onFailed: (err) => failures.push((err as Error).message),
      onWritten: () => written++,
      countersEveryMs: 60_000,
    });
    await vi.waitFor(() => expect(written).toBe(1), { timeout: 1_000 });
    // Counters move for 1.5 s (three ticks) while their interval is a minute: nothing to build.
    for (let i = 1; i <= 15; i++) {
      drains.web = { ...drains.web, sent: i };
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(built).toBe(1);
    drains.web = { ...drains.web, state: 'RUNNING' };
    publisher.changed();
    await vi.waitFor(async () => expect((await stored())?.web).toMatchObject({ state: 'RUNNING', sent: 15 }), { timeout: 1_000 });
  });

  it('reports a failed write and writes again once the store works', async () => {
    const p = start(60_000);
    await vi.waitFor(() => expect(written).toBe(1), { timeout: 1_000 });
    // A file where the status directory was: writes fail (ENOTDIR), as on a broken disk.
    rmSync(join(dir, 'store', 'status'), { recursive: true });
    writeFileSync(join(dir, 'store', 'status'), '');
    drains.web = { ...drains.web, state: 'RETRYING', error: 'connection refused' };
    p.changed();
    await vi.waitFor(() => expect(failures.length).toBeGreaterThan(0), { timeout: 1_000 });
    expect(failures[0]).toMatch(/^file:\/\/.*: cannot write status\/node-a\.json: /);

    rmSync(join(dir, 'store', 'status'));
    // Tried again after a second or so (then waits growing to 10 s while it keeps failing).
    await vi.waitFor(async () => expect((await stored())?.web).toMatchObject({ state: 'RETRYING', error: 'connection refused' }), { timeout: 5_000 });
    expect(written).toBe(2);
  });

  it('tries a failed write of counters alone again when counters are next due, not a second later', async () => {
    drains.web = { ...drains.web, state: 'RUNNING' };
    start(2_500);
    await vi.waitFor(() => expect(written).toBe(1), { timeout: 1_000 });
    rmSync(join(dir, 'store', 'status'), { recursive: true });
    writeFileSync(join(dir, 'store', 'status'), '');
    drains.web = { ...drains.web, sent: 7 };
    await vi.waitFor(() => expect(failures.length).toBe(1), { timeout: 4_000 });
    rmSync(join(dir, 'store', 'status'));
    // A state change's failed write would be tried again after about a second; counters wait their interval.
    await new Promise((r) => setTimeout(r, 1_500));
    expect(written).toBe(1);
    await vi.waitFor(async () => expect((await stored())?.web.sent).toBe(7), { timeout: 4_000 });
    expect(written).toBe(2);
    expect(failures).toHaveLength(1);
  });

  it('writes nothing once closed', async () => {
    const p = start(60_000);
    await vi.waitFor(() => expect(written).toBe(1), { timeout: 1_000 });
    await p.close();
    drains.web = { ...drains.web, state: 'RUNNING' };
    p.changed();
    await new Promise((r) => setTimeout(r, 600));
    expect((await stored())?.web.state).toBe('STARTING');
    expect(written).toBe(1);
  });
});
