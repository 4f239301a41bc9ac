import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { CoreStoppedLedger, heldByDrainsFile } from '../src/core-stopped.js';

const dirs: string[] = [];
afterEach(() => dirs.splice(0).forEach((d) => rmSync(d, { recursive: true, force: true })));

function ledger(): { ledger: CoreStoppedLedger; dir: string; logs: string[] } {
  const dir = mkdtempSync(join(tmpdir(), 'ly-ledger-'));
  dirs.push(dir);
  const logs: string[] = [];
  return { ledger: new CoreStoppedLedger(join(dir, 'state'), (level, message) => logs.push(`${level} ${message}`)), dir: join(dir, 'state'), logs };
}

describe('CoreStoppedLedger', () => {
  it('turns what drains held at a clean stop into core_stopped gaps for the next run, after the drops not told yet', () => {
    const first = ledger();
    first.ledger.stopped(
      new Map([
        ['a', { keys: ['k', 'k'], jsons: ['{}', '{}'], gaps: [{ reason: 'buffer_full', count: 7, since: 10 }] }],
        ['idle', { keys: [], jsons: [], gaps: [] }],
      ]),
    );
    expect(first.logs).toEqual([expect.stringMatching(/^WARN core stopped with 2 events held in memory by drains \(a 2\)/)]);
    const next = new CoreStoppedLedger(first.dir, (level, message) => first.logs.push(`${level} ${message}`));
    const left = next.load();
    expect([...left.keys()]).toEqual(['a']);
    expect(left.get('a')!.gaps.map((g) => [g.reason, g.count])).toEqual([['buffer_full', 7], ['core_stopped', 2]]);
    expect(first.logs[1]).toMatch(/^INFO core_stopped: 2 events were lost when the core last stopped \(a 2\); 7 dropped before it were not told yet/);
  });

  it('snapshots only when the counts change, so a kill -9 leaves the last count', () => {
    const { ledger: l, dir } = ledger();
    const file = heldByDrainsFile(dir);
    l.snapshot(new Map([['a', { events: 5, untold: [] }]]));
    const written = readFileSync(file, 'utf8');
    l.snapshot(new Map([['a', { events: 5, untold: [] }]]));
    expect(readFileSync(file, 'utf8')).toBe(written); // same counts: not rewritten (its time would differ)
    l.snapshot(new Map([['a', { events: 9, untold: [] }]]));
    expect(JSON.parse(readFileSync(file, 'utf8')).a.events).toBe(9);
    const left = new CoreStoppedLedger(dir, () => {}).load();
    expect(left.get('a')!.gaps).toEqual([{ reason: 'core_stopped', count: 9, since: expect.any(Number) }]);
  });

  it('skips entries it cannot read and names a file that is not JSON, without failing', () => {
    const { dir, logs } = ledger();
    const l = new CoreStoppedLedger(dir, (level, message) => logs.push(`${level} ${message}`));
    l.snapshot(new Map()); // creates the directory
    writeFileSync(heldByDrainsFile(dir), JSON.stringify({ good: { events: 3, at: 1, untold: [] }, bad: { events: -1, at: 1 }, worse: 'x' }));
    expect([...l.load().keys()]).toEqual(['good']);
    writeFileSync(heldByDrainsFile(dir), '{"torn');
    expect(l.load().size).toBe(0);
    expect(logs.at(-1)).toMatch(/^WARN core_stopped: cannot read .*held-by-drains\.json \(not JSON\); counts of the last run are lost$/);
  });
});
