import { nowUnix } from '@logyard/bus';
import { Backoff } from '@logyard/store';
import { NodeStatusEncoder, withUpdated, type DrainState, type NodeLive, type Store } from '@logyard/store';
import { CounterBudget } from './counter-budget.js';

export interface StatusPublisherOptions {
  store: Store;
  nodeId: string;
  /** Every drain on this node, by name, as the status document holds them. */
  drains: () => Record<string, DrainState>;
  /**
   * The node's live picture (keys, rates, clients), written with the counters. `moved`: the drains
   * whose state or counters changed, or that came, since the last call (their rates may have changed).
   */
  live?: (moved: ReadonlySet<string>) => NodeLive;
  /** A write failed; it is tried again at the next tick. */
  onFailed: (err: unknown) => void;
  /** A write succeeded. */
  onWritten: () => void;
  /** How often counters alone are written while they change. */
  countersEveryMs?: number;
  /** The least time between two writes, whatever changed. */
  writeGapMs?: number;
  /** Bytes of counters-only writes per second, on average, at most; by default this node's share of the cluster's (CounterBudget). */
  counterBytesPerSecond?: number;
}

/**
 * Counters alone go to the store at most this often (docs/store.md: "at most every few seconds"):
 * with the time `drain status` takes to read a hundred nodes under load, rows stay within 5 s.
 */
const COUNTERS_EVERY_MS = 2_000;
/**
 * Even changes of state wait this long after the last write: drains flapping between RUNNING and
 * RETRYING cost a node at most two writes a second, and a change still reaches readers within 1 s.
 */
const WRITE_GAP_MS = 500;
/**
 * Changes this close together go in one write: a drain added starts and, when its target answers
 * at once, runs (STARTING, then RUNNING) in one write of the node's document instead of two, and a
 * new drain set applied is one write. At 1,000 nodes × 1,000 drains each write of every node is
 * 17 MB for etcd.
 */
const SETTLE_MS = 50;
/** How often it looks for counters to write. */
const TICK_MS = 500;
/**
 * After a failed write, the next try waits this long, doubling up to RETRY_MAX_MS (with jitter):
 * when etcd is slow to take a thousand nodes' writes at once (a drain added everywhere), a node
 * that timed out does not add its write again every tick while etcd still works through the first.
 */
const RETRY_MIN_MS = 1_000;
const RETRY_MAX_MS = 10_000;

/**
 * Keeps this node's status document in the store (docs/store.md): one document with every drain's
 * state and counters, so that status costs one key per node, not one per drain per node. Written
 * at once when a drain's state changes or a drain comes (but not sooner than `writeGapMs` after the
 * last write); while only counters change, or drains went (readers leave out the rows of drains no
 * longer in the store), at most every `countersEveryMs`, or less often for a large document in a
 * large cluster (`counterBytesPerSecond`). A failed write of a change of state is tried again after a
 * growing wait, one of counters alone when counters are next due. One write at
 * a time: what changes meanwhile goes in the next one, all together, so a burst of changes (a
 * hundred drains starting) is a few writes, and a write racing a drain's removal is followed by
 * one without it.
 */
export class StatusPublisher {
  private readonly countersEveryMs: number;
  private readonly writeGapMs: number;
  /**
   * A node's budget for counters: a document of many drains has its counters written less often, so
   * that a cluster's status history stays within what compaction keeps (docs/sizing.md). Changes of
   * state are not held back by it.
   */
  private readonly counterBytesPerSecond: () => number;
  private readonly counterBudget: CounterBudget | undefined;
  private readonly timer: NodeJS.Timeout;
  /** A write put off until the gap after the last one is over. */
  private putOff: NodeJS.Timeout | undefined;
  /** A write after a change, once changes have settled. */
  private settling: NodeJS.Timeout | undefined;
  private writing: Promise<void> | null = null;
  private writeAgain = false;
  /**
   * Each drain's entry encoded once while it does not change: a drain added to 1,000 costs one
   * entry. It also tells whether a drain's state or error differs from what was last written.
   */
  private readonly encoder = new NodeStatusEncoder();
  private writtenAll: string | undefined;
  private writtenAt = 0;
  /**
   * Whether a change was signalled (or a write failed) since the document was last looked at: until
   * then a tick before `countersDueAt` has nothing to do, and does not build the document (for 1,000
   * drains, building it twice a second was most of an idle core's CPU, and of the cluster simulator's).
   */
  private signalled = true;
  /** When counters alone are next worth looking at. */
  private countersDueAt = 0;
  /** No write before this, after a failed one. */
  private retryAt = 0;
  private readonly retryBackoff = new Backoff(RETRY_MIN_MS, RETRY_MAX_MS);
  private closed = false;

  constructor(private readonly options: StatusPublisherOptions) {
    this.countersEveryMs = options.countersEveryMs ?? COUNTERS_EVERY_MS;
    this.writeGapMs = options.writeGapMs ?? WRITE_GAP_MS;
    const fixed = options.counterBytesPerSecond;
    this.counterBudget = fixed === undefined ? new CounterBudget(options.store) : undefined;
    this.counterBytesPerSecond = fixed === undefined ? () => this.counterBudget!.bytesPerSecond() : () => fixed;
    this.timer = setInterval(() => this.publish(), TICK_MS);
    this.timer.unref();
    this.changed();
  }

  /**
   * A drain's state changed, or a drain came: written within SETTLE_MS (after a write in progress).
   * A drain that went need not be signalled: it leaves the document with the next counters.
   */
  changed(): void {
    this.signalled = true;
    this.settling ??= setTimeout(() => {
      this.settling = undefined;
      this.publish();
    }, SETTLE_MS);
    this.settling.unref();
  }

  /** Stops writing, awaiting a write in progress. Safe to call twice. */
  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.timer);
    clearTimeout(this.putOff);
    clearTimeout(this.settling);
    await this.counterBudget?.close();
    await this.writing;
  }

  private publish(): void {
    if (this.closed) return;
    if (this.writing) {
      this.writeAgain = true;
      return;
    }
    this.writing = (async () => {
      do {
        this.writeAgain = false;
        await this.writeIfDue();
      } while (this.writeAgain && !this.closed);
    })().finally(() => (this.writing = null));
  }

  private async writeIfDue(): Promise<void> {
    const now = Date.now();
    if (now < this.retryAt || (!this.signalled && now < this.countersDueAt)) return;
    this.signalled = false;
    const drains = this.options.drains();
    // Its drains part first: the same pass tells whether a state changed.
    const drainsPart = this.encoder.drainsPart(drains);
    const stateChanged = this.encoder.statesChanged;
    // Signalled, but no state changed (a drain went): written with the counters, when they are due.
    // Not completed before then: a drain deleted costs a node no live part and no document.
    if (!stateChanged && now < this.countersDueAt) return;
    const live = this.options.live?.(this.encoder.takeMoved());
    // As stored: its length is what a write costs etcd. Built once, for the comparison and the write.
    const all = this.encoder.document(drainsPart, live);
    const countersEveryMs = Math.max(this.countersEveryMs, (all.length * 1000) / this.counterBytesPerSecond());
    if (all === this.writtenAll) {
      // Nothing moved: looked at again after the shortest interval for counters.
      this.countersDueAt = now + this.countersEveryMs;
      return;
    }
    const wait = this.writtenAt + (stateChanged ? this.writeGapMs : countersEveryMs) - now;
    if (wait > 0) {
      if (!stateChanged) this.countersDueAt = this.writtenAt + countersEveryMs;
      // A change of state put off gets a wake-up of its own; counters wait for the tick.
      else {
        this.signalled = true;
        this.putOff ??= setTimeout(() => {
          this.putOff = undefined;
          this.publish();
        }, wait);
        this.putOff.unref();
      }
      return;
    }
    const updated = nowUnix();
    try {
      const status = { node_id: this.options.nodeId, updated, drains, ...(live ? { live } : {}) };
      await this.options.store.putNodeStatus(status, withUpdated(all, updated), { countersOnly: !stateChanged });
    } catch (err) {
      if (stateChanged) {
        this.signalled = true;
        this.retryAt = Date.now() + this.retryBackoff.next();
      } else {
        // Counters alone are tried again when counters are next due, not a backoff later, nor by
        // the store as soon as etcd is back (countersOnly): the store holds the failed document as
        // the node's latest and, when the node's lease was lost meanwhile (an etcd outage), writes
        // it under the new lease; a retry right after would write the document of every node of a
        // cluster at that moment.
        this.countersDueAt = Date.now() + countersEveryMs;
      }
      this.options.onFailed(err);
      return;
    }
    this.retryBackoff.reset();
    this.writtenAll = all;
    this.encoder.written();
    this.writtenAt = Date.now();
    this.countersDueAt = this.writtenAt + countersEveryMs;
    this.options.onWritten();
  }
}
