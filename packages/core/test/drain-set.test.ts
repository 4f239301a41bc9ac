import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { DrainContext, HeldEvents } from '@logyard/drains';
import { fillUntilStalled, listenForLines, listenStalled, unusedPort, waitFor, type LineServer } from '../../drains/test/helpers.js';
import { DrainSet, type DrainDefinition } from '../src/drain-set.js';

const sets: DrainSet[] = [];
const servers: LineServer[] = [];
afterEach(async () => {
  await Promise.all(sets.splice(0).map((s) => s.close(100)));
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

function drainSet(formats: Record<string, string> = {}, hooks: ConstructorParameters<typeof DrainSet>[1] = {}): { set: DrainSet; formats: Record<string, string> } {
  const state = { formats };
  const context = (): DrainContext => ({ nodeId: 'n1', formats: state.formats, fileDrainRoots: [] });
  const set = new DrainSet(context, hooks);
  sets.push(set);
  return { set, formats: state.formats };
}

/** Definitions by name, as DrainSet.apply takes them. */
function byName(definitions: DrainDefinition[]): Map<string, DrainDefinition> {
  return new Map(definitions.map((d) => [d.name, d]));
}

async function server(port?: number): Promise<LineServer> {
  const s = await listenForLines(port);
  servers.push(s);
  return s;
}

const ev = (text: string): string => JSON.stringify({ text, node_id: 'n1', unix_time: 1, human_time: 'x' });
const texts = (s: LineServer): string[] => s.lines.map((l) => JSON.parse(l).text);
const status = (set: DrainSet, name: string) => set.statuses().find((s) => s.name === name)!;

describe('DrainSet', () => {
  it('routes each key to the drains whose filters are byte prefixes of it, and says how many matched', async () => {
    const a = await server();
    const b = await server();
    const { set } = drainSet();
    await set.apply(byName([
      { name: 'a', uri: `tcp://127.0.0.1:${a.port}?filter=systail.nginx` },
      { name: 'b', uri: `tcp://127.0.0.1:${b.port}` }, // no filter: every key
      { name: 'bad', uri: 'nope://x' },
    ]));
    expect(set.route('systail.nginx.n1', ev('one'))).toBe(2);
    expect(set.route('event.x', ev('two'))).toBe(1);
    expect(set.statuses().map((s) => [s.name, s.state])).toEqual([['a', expect.any(String)], ['b', expect.any(String)], ['bad', 'FATAL']]);
    await waitFor('lines', () => a.lines.length === 1 && b.lines.length === 2);
    expect(texts(a)).toEqual(['one']);
    expect(texts(b)).toEqual(['one', 'two']);
  });

  it('leaves an unchanged drain alone, restarts a changed one with what it held, and stops a deleted one', async () => {
    const dead = await unusedPort();
    const removed: Array<[string, number]> = [];
    const { set } = drainSet({}, { onRemoved: (name, held) => removed.push([name, held]) });
    const keep = { name: 'keep', uri: `tcp://127.0.0.1:${dead}?filter=k` };
    await set.apply(byName([keep, { name: 'move', uri: `tcp://127.0.0.1:${dead}?filter=m` }, { name: 'gone', uri: `tcp://127.0.0.1:${dead}?filter=g` }]));
    await waitFor('RETRYING', () => set.statuses().every((s) => s.state === 'RETRYING'));
    for (const key of ['k', 'm', 'm', 'g', 'g', 'g']) set.route(key, ev(key));
    const keepSince = status(set, 'keep').since;

    const target = await server();
    await set.apply(byName([keep, { name: 'move', uri: `tcp://127.0.0.1:${target.port}?filter=m` }]));
    expect(status(set, 'keep')).toMatchObject({ buffered: 1, since: keepSince });
    expect(removed).toEqual([['gone', 3]]);
    expect(set.size).toBe(2);
    await waitFor('the held events at the new target', () => target.lines.length === 2);
    expect(status(set, 'move')).toMatchObject({ sent: 2, dropped: { buffer_full: 0 } });
  });

  it('counts as uri_changed what a drain held when its new URI reaches another kind of target', async () => {
    const dead = await unusedPort();
    const { set } = drainSet();
    await set.apply(byName([{ name: 'd', uri: `tcp://127.0.0.1:${dead}` }]));
    set.route('x', ev('a'));
    await set.apply(byName([{ name: 'd', uri: `udp://127.0.0.1:${dead}` }]));
    expect(status(set, 'd').dropped).toEqual({ buffer_full: 0, uri_changed: 1 });
    // tcp and tls are the same kind: a move between them keeps the events.
    await set.apply(byName([{ name: 'd', uri: `tls://127.0.0.1:${dead}` }]));
    set.route('x', ev('b'));
    await set.apply(byName([{ name: 'd', uri: `tcp://127.0.0.1:${dead}` }]));
    expect(status(set, 'd')).toMatchObject({ buffered: 1 });
  });

  it('restarts a drain whose named format changed, keeping its buffer', async () => {
    const dead = await unusedPort();
    const { set, formats } = drainSet({ short: '{{text}}' });
    await set.apply(byName([{ name: 'f', uri: `tcp://127.0.0.1:${dead}?format=short` }, { name: 'other', uri: `tcp://127.0.0.1:${dead}` }]));
    set.route('x', ev('a'));
    await waitFor('RETRYING', () => set.statuses().every((s) => s.state === 'RETRYING'));
    const before = status(set, 'f').since;
    const otherSince = status(set, 'other').since;
    await new Promise((r) => setTimeout(r, 5));
    formats.short = 'v2 {{text}}';
    await set.apply();
    expect(status(set, 'f').since).not.toBe(before);
    expect(status(set, 'f').buffered).toBe(1);
    expect(status(set, 'other').since).toBe(otherSince);
  });

  it('hands the last run\'s drops to drains that still exist, even when formats arrive before the drains', async () => {
    const forgotten: string[] = [];
    const { set } = drainSet({}, { onForgotten: (name) => forgotten.push(name) });
    const gap = (count: number): HeldEvents => ({ keys: [], jsons: [], gaps: [{ reason: 'core_stopped', count, since: 1 }] });
    set.takeOverFromLastRun(new Map([['here', gap(5)], ['deleted', gap(7)]]));
    await set.apply(); // the named formats changed before the store's drains came: nothing to converge yet
    expect(set.heldNow().get('here')).toEqual({ events: 0, untold: [{ reason: 'core_stopped', count: 5, since: 1 }] });
    const dead = await unusedPort();
    await set.apply(byName([{ name: 'here', uri: `tcp://127.0.0.1:${dead}` }]));
    expect(forgotten).toEqual(['deleted']);
    expect(status(set, 'here').dropped).toEqual({ buffer_full: 0, core_stopped: 5 });
    set.route('x', ev('a'));
    expect(set.heldNow().get('here')).toMatchObject({ events: 1, untold: [{ reason: 'core_stopped', count: 5 }] });
    const held = await set.close(100);
    expect(held.get('here')).toMatchObject({ keys: ['x'], gaps: [{ reason: 'core_stopped', count: 5 }] });
    expect(await set.close(100)).toEqual(new Map());
  });

  it('close() during a restart toward a stalled target cuts the send at once and keeps what was held', async () => {
    const stalled = await listenStalled();
    try {
      const { set } = drainSet();
      const uri = `tcp://127.0.0.1:${stalled.port}`;
      await set.apply(byName([{ name: 's', uri }]));
      await waitFor('RUNNING', () => status(set, 's').state === 'RUNNING');
      // Through route(), as the core pushes.
      await fillUntilStalled({ push: (key, json) => void set.route(key, json), status: () => status(set, 's') });
      const restart = set.apply(byName([{ name: 's', uri: `${uri}?buffer=20000` }])); // waits for the send in flight
      const t0 = Date.now();
      const held = await set.close(100);
      expect(Date.now() - t0).toBeLessThan(4000);
      await restart;
      expect(set.size).toBe(0); // the restart did not start a drain after close
      expect(held.get('s')!.keys.length).toBeGreaterThan(0);
    } finally {
      await stalled.close();
    }
  });

  it('names, at its first apply, a disk queue left by a drain deleted while the core was down, and leaves it alone', async () => {
    const buffersDir = mkdtempSync(join(tmpdir(), 'logyard-buffers-'));
    try {
      mkdirSync(join(buffersDir, 'gone'));
      mkdirSync(join(buffersDir, 'kept'));
      const left: string[] = [];
      const set = new DrainSet(() => ({ nodeId: 'n1', formats: {}, fileDrainRoots: [], buffersDir }), { onQueueLeft: (name) => left.push(name) });
      sets.push(set);
      const port = await unusedPort();
      await set.apply(byName([{ name: 'kept', uri: `tcp://127.0.0.1:${port}?disk=16MiB` }]));
      await set.apply(byName([]));
      expect(left).toEqual(['gone']);
      expect(existsSync(join(buffersDir, 'gone'))).toBe(true);
    } finally {
      rmSync(buffersDir, { recursive: true, force: true });
    }
  });
});
