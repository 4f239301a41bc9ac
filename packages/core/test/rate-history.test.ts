import { describe, expect, it } from 'vitest';
import type { ClusterView } from '@logyard/store';
import { ALWAYS_SAMPLED_NODES, ClusterHistory } from '../src/rate-history.js';

/** A cluster whose drains send these events/s out. */
function cluster(rates: Record<string, number>): ClusterView {
  return { drains: Object.entries(rates).map(([name, out_per_s]) => ({ name, nodes: [], out_per_s, dropped_per_s: 0 })), keys: [], nodes: [] };
}

describe('ClusterHistory (the console graph kept by the core)', () => {
  it('keeps the last 10 minutes of 5 s samples per drain, null before a drain existed, and forgets a deleted drain', async () => {
    let now = 1_000_000_000;
    let view = cluster({ a: 1 });
    const history = new ClusterHistory(async () => view, () => now, 3_600_000);
    try {
      expect(history.get()).toEqual({ t: [], drains: {} });
      await history.sample();
      now += 5_000;
      view = cluster({ a: 2, b: 7 });
      await history.sample();
      expect(history.get()).toEqual({ t: [1_000_000, 1_000_005], drains: { a: [1, 2], b: [null, 7] } });
      // 130 samples: the ring keeps the last 120 (10 minutes).
      for (let i = 0; i < 128; i++) {
        now += 5_000;
        view = cluster({ a: i, b: 7 });
        await history.sample();
      }
      const full = history.get();
      expect(full.t).toHaveLength(120);
      expect(full.t[119] - full.t[0]).toBe(595);
      expect(full.drains.a.slice(-3)).toEqual([125, 126, 127]);
      // b deleted: its history goes at the next sample.
      now += 5_000;
      view = cluster({ a: 1 });
      await history.sample();
      expect(Object.keys(history.get().drains)).toEqual(['a']);
    } finally {
      history.close();
      history.close();
    }
  });

  it('leaves a gap while the store is away and shows nothing older than 10 minutes', async () => {
    let now = 2_000_000_000;
    let fail = false;
    const history = new ClusterHistory(async () => (fail ? Promise.reject(new Error('store away')) : cluster({ a: 3 })), () => now, 3_600_000);
    try {
      await history.sample();
      now += 5_000;
      await history.sample();
      fail = true;
      now += 5_000;
      await history.sample();
      expect(history.get()).toEqual({ t: [2_000_000, 2_000_005], drains: { a: [3, 3] } });
      now += 10 * 60_000;
      expect(history.get()).toEqual({ t: [], drains: { a: [] } });
    } finally {
      history.close();
    }
  });

  it('in a cluster of more than ALWAYS_SAMPLED_NODES nodes, reads the store only while a console looked in the last 10 minutes', async () => {
    let now = 3_000_000_000;
    let reads = 0;
    const big: ClusterView = { ...cluster({ a: 5 }), nodes: Array.from({ length: ALWAYS_SAMPLED_NODES + 1 }, () => ({}) as ClusterView['nodes'][number]) };
    const history = new ClusterHistory(async () => (reads++, big), () => now, 3_600_000);
    try {
      await history.sample();
      now += 5_000;
      await history.sample();
      // No console asked: after the first read showed a big cluster, no more reads.
      expect(reads).toBe(1);
      history.get();
      for (let i = 0; i < 3; i++) {
        now += 5_000;
        await history.sample();
      }
      expect(reads).toBe(4);
      expect(history.get().drains.a).toEqual([5, 5, 5, 5]);
      // Ten minutes without a console: reading stops again.
      now += 10 * 60_000 + 5_000;
      await history.sample();
      expect(reads).toBe(4);
    } finally {
      history.close();
    }
  });
});
