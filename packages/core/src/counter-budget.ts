import type { Store } from '@logyard/store';

/**
 * What the status documents of a whole cluster may add to etcd's history per second while only
 * counters move, whatever the number of nodes: with compaction keeping 10 to 20 s of history
 * (docs/sizing.md), 10-20 MB of etcd's database (60-120 MB with a retention of a minute).
 */
export const CLUSTER_COUNTER_BYTES_PER_SECOND = 1_048_576;
/** A node's share is never more than this (a small cluster: 100 or 1,000 drains every 2 s). */
const NODE_MAX_BYTES_PER_SECOND = 16_384;
/** ... nor less (a cluster of more than 4,000 nodes). */
const NODE_MIN_BYTES_PER_SECOND = 256;
/** A node's share until the nodes were first counted: as in a cluster of 500. */
const UNCOUNTED_BYTES_PER_SECOND = 2_048;
/**
 * How often the nodes are counted (±20 %): every 5 s at first, doubling to every minute. A cluster
 * starting all at once grows by hundreds of nodes in its first minute: a node that counted 10 and
 * kept that for a minute wrote 16 times its share (etcd's database at 1,000 simulated nodes grew by
 * 3.5 MB/s instead of 1). A count is one small request.
 */
const FIRST_COUNT_AFTER_MS = 5_000;
const COUNT_EVERY_MS = 60_000;

/**
 * This node's share of the cluster's budget for counters, in bytes a second: the cluster's budget
 * divided by the number of live nodes, counted in the store now and then. With 100 nodes of 1,000
 * drains (16.8 KB documents, 10 drains busy) each node writes its counters every 2 s; with 1,000
 * nodes, about every 16 s. A failed count keeps the last one.
 */
export class CounterBudget {
  private share = UNCOUNTED_BYTES_PER_SECOND;
  private timer: NodeJS.Timeout | undefined;
  private countAfterMs = FIRST_COUNT_AFTER_MS;
  private counting: Promise<void> | undefined;
  private closed = false;

  constructor(private readonly store: Store) {
    this.count();
  }

  bytesPerSecond(): number {
    return this.share;
  }

  /** Stops counting, awaiting a count in progress. Safe to call twice. */
  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.timer);
    await this.counting;
  }

  private count(): void {
    this.counting = (async () => {
      try {
        const nodes = await this.store.countNodes();
        const share = CLUSTER_COUNTER_BYTES_PER_SECOND / Math.max(1, nodes);
        this.share = Math.round(Math.min(NODE_MAX_BYTES_PER_SECOND, Math.max(NODE_MIN_BYTES_PER_SECOND, share)));
      } catch {
        // The store is away: the last count stands.
      }
      this.counting = undefined;
      if (this.closed) return;
      this.timer = setTimeout(() => this.count(), this.countAfterMs * (0.8 + Math.random() * 0.4));
      this.countAfterMs = Math.min(COUNT_EVERY_MS, this.countAfterMs * 2);
      this.timer.unref();
    })();
  }
}
