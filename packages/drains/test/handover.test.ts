import { afterEach, describe, expect, it, onTestFinished } from 'vitest';
import { closeDrains, eventJson, fillUntilStalled, listenForLines, listenStalled, makeDrain, unusedPort, waitFor, waitForState, type LineServer } from './helpers.js';

const servers: LineServer[] = [];
afterEach(async () => {
  await closeDrains();
  await Promise.all(servers.splice(0).map((server) => server.close()));
});

describe('a drain handing what it holds to the next one (adopt/release)', () => {
  it('passes the events a RETRYING drain held to its successor, which sends them first, in order', async () => {
    const deadPort = await unusedPort();
    const before = makeDrain('moved', `tcp://127.0.0.1:${deadPort}`);
    before.start();
    await waitForState(before, 'RETRYING');
    for (let i = 0; i < 50; i++) before.push('systail.app', eventJson(`held ${i}`));
    await before.close();
    const held = before.release();
    expect(held.keys).toHaveLength(50);
    expect(before.release().keys).toHaveLength(0); // released once

    const server = await listenForLines();
    servers.push(server);
    const after = makeDrain('moved', `tcp://127.0.0.1:${server.port}`);
    after.adopt(held);
    after.start();
    after.push('systail.app', eventJson('new'));
    await waitFor('51 lines', () => server.lines.length === 51, undefined, after);
    expect(server.lines.map((line) => JSON.parse(line).text)).toEqual([...Array.from({ length: 50 }, (_, i) => `held ${i}`), 'new']);
    expect(after.status()).toMatchObject({ sent: 51, dropped: { buffer_full: 0 } });
  });

  it('tells adopted gaps in-band before any event, and counts them under their reason', async () => {
    const server = await listenForLines();
    servers.push(server);
    const drain = makeDrain('restarted', `tcp://127.0.0.1:${server.port}`);
    drain.adopt({ keys: [], jsons: [], gaps: [{ reason: 'core_stopped', count: 28, since: 1_700_000_000 }] });
    drain.start();
    drain.push('systail.app', eventJson('after'));
    await waitFor('2 lines', () => server.lines.length === 2, undefined, drain);
    const notice = JSON.parse(server.lines[0]);
    expect(notice.text).toMatch(/^logyard: dropped 28 events for drain restarted since 2023-11-1\dT.* \(core stopped\)$/);
    expect(notice).toMatchObject({ reason: 'core_stopped', dropped: 28, drain: 'restarted' });
    expect(JSON.parse(server.lines[1]).text).toBe('after');
    expect(drain.status().dropped).toEqual({ buffer_full: 0, core_stopped: 28 });
  });

  it('a drain with an unusable URI counts adopted events as uri_changed and passes the count on', async () => {
    const bad = makeDrain('broken', 'tcp://127.0.0.1:1?buffer=zero');
    expect(bad.status().state).toBe('FATAL');
    bad.adopt({ keys: ['a', 'b'], jsons: ['{}', '{}'], gaps: [{ reason: 'buffer_full', count: 3, since: 5 }] });
    expect(bad.status().dropped).toEqual({ buffer_full: 3, uri_changed: 2 });
    expect(bad.held()).toMatchObject({ events: 0, untold: [{ reason: 'buffer_full', count: 3 }, { reason: 'uri_changed', count: 2 }] });
    await bad.close();
    expect(bad.release().gaps.map((g) => [g.reason, g.count])).toEqual([['buffer_full', 3], ['uri_changed', 2]]);
  });

  it('a drain gone FATAL keeps what it holds for the drain that replaces it', async () => {
    const { mkdtempSync, readFileSync, rmSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const root = mkdtempSync(join(tmpdir(), 'ly-handover-'));
    const outside = mkdtempSync(join(tmpdir(), 'ly-outside-'));
    onTestFinished(() => {
      rmSync(root, { recursive: true, force: true });
      rmSync(outside, { recursive: true, force: true });
    });
    const fatal = makeDrain('fixed', `file://${outside}/x.log`, { fileDrainRoots: [root] });
    fatal.start();
    await waitForState(fatal, 'FATAL');
    fatal.push('systail.app', eventJson('kept 1'));
    fatal.push('systail.app', eventJson('kept 2'));
    expect(fatal.status()).toMatchObject({ state: 'FATAL', buffered: 2 });
    await fatal.close();

    const fixed = makeDrain('fixed', `file://${root}/x.log`, { fileDrainRoots: [root] });
    fixed.adopt(fatal.release());
    fixed.start();
    await waitFor('both lines in the file', () => {
      try {
        return readFileSync(join(root, 'x.log'), 'utf8').split('\n').filter(Boolean).length === 2;
      } catch {
        return false;
      }
    }, undefined, fixed);
    expect(readFileSync(join(root, 'x.log'), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l).text)).toEqual(['kept 1', 'kept 2']);
  });

  it('close(graceMs) cuts a send stalled on a target that does not read, and the batch stays held', async () => {
    const stalled = await listenStalled();
    try {
      const drain = makeDrain('stuck', `tcp://127.0.0.1:${stalled.port}`);
      drain.start();
      await waitForState(drain, 'RUNNING');
      await fillUntilStalled(drain);
      const sentBefore = drain.status().sent;
      await drain.close(200);
      const held = drain.release();
      expect(held.keys.length + drain.status().sent).toBe(5000);
      expect(drain.status().sent).toBe(sentBefore);
      expect(held.keys.length).toBeGreaterThan(0);
    } finally {
      await stalled.close();
    }
  });

  it('a second close() with a shorter grace cuts a stalled send sooner (a core stopping while a drain restarts)', async () => {
    const stalled = await listenStalled();
    try {
      const drain = makeDrain('restarting', `tcp://127.0.0.1:${stalled.port}`);
      drain.start();
      await waitForState(drain, 'RUNNING');
      await fillUntilStalled(drain);
      const t0 = Date.now();
      const restart = drain.close(); // the default grace: 5 s for the send in flight
      await drain.close(100);
      expect(Date.now() - t0).toBeLessThan(4000);
      await restart;
      expect(drain.release().keys.length + drain.status().sent).toBe(5000);
    } finally {
      await stalled.close();
    }
  });
});
