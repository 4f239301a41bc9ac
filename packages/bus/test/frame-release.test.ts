import { constants, PerformanceObserver, type PerformanceEntry } from 'node:perf_hooks';
import { describe, expect, it } from 'vitest';
import { FrameReleaser } from '../src/frame-release.js';

/** Minor collections V8 reports while `work` runs (entries arrive asynchronously, hence the wait). */
async function minorCollectionsDuring(work: () => void): Promise<number> {
  const entries: PerformanceEntry[] = [];
  const observer = new PerformanceObserver((list) => entries.push(...list.getEntries()));
  observer.observe({ entryTypes: ['gc'] });
  work();
  await new Promise((r) => setTimeout(r, 50));
  observer.disconnect();
  return entries.filter((e) => (e.detail as { kind: number }).kind === constants.NODE_PERFORMANCE_GC_MINOR).length;
}

describe('FrameReleaser', () => {
  it('runs a minor collection each time the frames received add up to its size, so ZeroMQ frames already routed are freed', async () => {
    const releaser = new FrameReleaser(1024 * 1024);
    const collections = await minorCollectionsDuring(() => {
      for (let i = 0; i < 40; i++) releaser.received(512 * 1024);
    });
    expect(collections).toBeGreaterThanOrEqual(20);
  });

  it('leaves collections to V8 below its size', async () => {
    const releaser = new FrameReleaser(1024 * 1024 * 1024);
    const collections = await minorCollectionsDuring(() => {
      for (let i = 0; i < 40; i++) releaser.received(512 * 1024);
    });
    expect(collections).toBeLessThan(20);
  });
});
