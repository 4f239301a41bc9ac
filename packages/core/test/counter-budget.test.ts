import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { FileStore } from '@logyard/store/file';
import { CLUSTER_COUNTER_BYTES_PER_SECOND, CounterBudget } from '../src/counter-budget.js';

/** A node's share of the cluster's budget for counters (docs/sizing.md), from the nodes live in a real file store. */
describe('CounterBudget', () => {
  let dir: string;
  const stores: FileStore[] = [];
  let budget: CounterBudget | undefined;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'logyard-budget-'));
  });

  afterEach(async () => {
    await budget?.close();
    await budget?.close();
    await Promise.all(stores.splice(0).map((store) => store.close()));
    rmSync(dir, { recursive: true, force: true });
  });

  async function nodes(count: number): Promise<FileStore> {
    for (let i = 0; i < count; i++) {
      const store = new FileStore(join(dir, 'store'));
      await store.registerNode({ node_id: `node-${stores.length}`, started: 1_700_000_000, version: '0.1.0' });
      stores.push(store);
    }
    return stores[0];
  }

  it('gives a node alone 16 KiB/s', async () => {
    budget = new CounterBudget(await nodes(1));
    await vi.waitFor(() => expect(budget!.bytesPerSecond()).toBe(16_384), { timeout: 2_000 });
  });

  it('follows a cluster growing after it started (counted again within seconds)', async () => {
    const first = await nodes(1);
    budget = new CounterBudget(first);
    await vi.waitFor(() => expect(budget!.bytesPerSecond()).toBe(16_384), { timeout: 2_000 });
    await nodes(99);
    await vi.waitFor(() => expect(budget!.bytesPerSecond()).toBe(Math.round(CLUSTER_COUNTER_BYTES_PER_SECOND / 100)), { timeout: 10_000 });
  });

  it('gives each of 100 nodes a hundredth of the cluster\'s budget', async () => {
    budget = new CounterBudget(await nodes(100));
    await vi.waitFor(() => expect(budget!.bytesPerSecond()).toBe(Math.round(CLUSTER_COUNTER_BYTES_PER_SECOND / 100)), { timeout: 2_000 });
  });
});
