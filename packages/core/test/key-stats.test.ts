import { describe, expect, it } from 'vitest';
import { KeyStats } from '../src/key-stats.js';

function clock(start = 1_700_000_000_000): { now: () => number; advance: (ms: number) => void } {
  let t = start;
  return { now: () => t, advance: (ms) => (t += ms) };
}

describe('KeyStats', () => {
  it('counts events per key, busiest first, with the rate over the last minute', () => {
    const c = clock();
    const stats = new KeyStats(100, c.now);
    for (let s = 0; s < 120; s++) {
      for (let i = 0; i < 10; i++) stats.count('systail.nginx');
      stats.count('systail.cron');
      stats.endRun();
      c.advance(1_000);
    }
    const { keys, other } = stats.busiest(10);
    expect(keys.map((k) => k.key)).toEqual(['systail.nginx', 'systail.cron']);
    expect(keys[0].events_per_s).toBeCloseTo(10, 0);
    expect(keys[1].events_per_s).toBeCloseTo(1, 0);
    expect(keys[0].events_10m).toBe(1200);
    expect(keys[0].last_seen).toBe(Math.floor((c.now() - 1_000) / 1000));
    expect(other).toBeUndefined();
  });

  it('forgets a key after 10 minutes without events; its rate falls to 0 after a minute', () => {
    const c = clock();
    const stats = new KeyStats(100, c.now);
    for (let i = 0; i < 600; i++) stats.count('app.once');
    stats.endRun();
    c.advance(70_000);
    expect(stats.busiest(10).keys[0]).toMatchObject({ key: 'app.once', events_per_s: 0, events_10m: 600 });
    c.advance(600_000);
    expect(stats.busiest(10).keys).toEqual([]);
    expect(stats.size).toBe(0);
  });

  it('keeps at most twice `tracked` keys under a flood of distinct keys; the busy ones stay, the rest are (other)', () => {
    const c = clock();
    const stats = new KeyStats(1_000, c.now);
    for (let i = 0; i < 100_000; i++) {
      stats.count('busy.key');
      stats.count(`flood.${i}`);
      if (i % 1000 === 0) c.advance(100);
    }
    expect(stats.size).toBeLessThanOrEqual(2_000);
    const { keys, other } = stats.busiest(100);
    expect(keys[0]).toMatchObject({ key: 'busy.key', events_10m: 100_000 });
    expect(keys).toHaveLength(100);
    // Every event is counted once: by its own key or in (other).
    expect(keys.reduce((n, k) => n + k.events_10m, 0) + other!.events_10m).toBe(200_000);
    expect(other!.key).toBe('(other)');
  });
});
