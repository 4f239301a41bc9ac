import { EtcdLeaseInvalidError, type Etcd3, type Lease } from 'etcd3';
import { PutBudget } from './put-budget.js';
import { Backoff, sleep, withTimeout } from './time.js';

export interface NodeLeaseOptions {
  /** The lease's TTL, in seconds. */
  ttl: number;
  /** Puts of this node, on average per second (its budget). Default 2: a status write every 500 ms at most. */
  putsPerSecond?: number;
  /** Puts of this node at once, before the budget holds them back. Default 4. */
  putBurst?: number;
  /** A lost lease is replaced after a random wait of up to this. Default 2 000 ms. */
  renewSpreadMs?: number;
  /** Waits between attempts while etcd is away: `ms`, or less once etcd is back (EtcdConnection.pause). */
  pause?: (ms: number) => Promise<void>;
}

const DEFAULT_PUTS_PER_SECOND = 2;
const DEFAULT_PUT_BURST = 4;
const DEFAULT_RENEW_SPREAD_MS = 2_000;
/**
 * Keepalives that fail while etcd is away are tried again after these waits (doubling, with
 * jitter), not every 100 ms as etcd3's own keepalive does: at 1,000 nodes that was 10,000 failed
 * calls a second, all of a simulator's CPU in the first 20 s of an outage (docs/sizing.md).
 */
const KEEPALIVE_RETRY_MIN_MS = 500;
const KEEPALIVE_RETRY_MAX_MS = 4_000;

/**
 * This node's lease and the entries kept under it (its node entry and its status document).
 *
 * The lease is kept alive by keepalives of its own (every third of the TTL, as etcd's Go client does;
 * etcd3's lease keepalive is off). While etcd is away a failed keepalive is tried again after a
 * growing wait that ends early when etcd answers again (`pause`). The lease counts as lost only
 * when etcd says so (a keepalive answered with TTL 0, or a put refused with "lease not found"), never
 * by this node's clock: etcd gives every lease a full TTL again when it restarts or elects a leader
 * (its lessor's promote), so after an etcd outage of any length the keepalive that reaches it keeps
 * the same lease and nothing is written again. (etcd3 counts a lease lost twice its TTL after its
 * last keepalive; at 1,000 nodes that made every node grant and rewrite at once after each outage.)
 * When etcd did expire it, e.g. this node was cut off while etcd served the others, the first
 * keepalive or put after reconnecting hears so. A lease kept through an outage gets only the
 * values put `soon` whose writes failed meanwhile, once a keepalive succeeds again. Once it is lost a new one is taken and
 * every entry written again with its latest value, the node entry first. When many nodes lose their
 * leases at once each waits a random part of `renewSpreadMs` (then backs off while etcd is still
 * away), so etcd sees the grants and rewrites of a thousand nodes spread over seconds. A rewrite that fails half way goes on under the same lease from the first key not yet
 * written, not from the start. Every put takes a token from the node's budget.
 *
 * Writes go one at a time, so an older value never lands after a newer one (a status racing a
 * drain's deletion leaves no ghost), and a value the lease already holds is not written again.
 */
export class NodeLease {
  private lease: Lease;
  /** The latest value of every entry, in the order they were first put. */
  private readonly entries = new Map<string, string>();
  /** The values `lease` holds, as far as this node knows: what was written under it. */
  private written = new Map<string, string>();
  /**
   * The keys with a value put `soon` and not written yet: what a lease kept through an outage writes
   * as soon as etcd answers again. Counters that failed to be written wait for the node's next write:
   * after an outage, 1,000 nodes writing their 34 KB documents at once made etcd's apply so late
   * that keepalives failed ("waiting for the applied index took too long") and leases were lost.
   */
  private readonly soon = new Set<string>();
  private lost = false;
  private readonly budget: PutBudget;
  private readonly renewSpreadMs: number;
  private writes: Promise<unknown> = Promise.resolve();
  private renewing: Promise<void> | undefined;
  private closed = false;

  constructor(
    private readonly client: Etcd3,
    private readonly options: NodeLeaseOptions,
  ) {
    this.budget = new PutBudget(options.putsPerSecond ?? DEFAULT_PUTS_PER_SECOND, options.putBurst ?? DEFAULT_PUT_BURST);
    this.renewSpreadMs = options.renewSpreadMs ?? DEFAULT_RENEW_SPREAD_MS;
    this.lease = this.newLease();
  }

  /**
   * Writes `key` under the lease, and again under every later lease until close(). A value put
   * `soon` (the default) whose write fails is written again as soon as etcd answers again; else
   * only by the next put of the key, or under a new lease.
   */
  put(key: string, value: string, { soon = true }: { soon?: boolean } = {}): Promise<void> {
    this.entries.set(key, value);
    if (soon) this.soon.add(key);
    // The latest value when its turn comes: of two queued writes of a key both write the newer.
    return this.serially(() => this.writeLatest(key));
  }

  async close(timeoutMs: number): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await withTimeout(this.lease.revoke(), timeoutMs).catch(() => this.lease.release());
  }

  private serially(write: () => Promise<void>): Promise<void> {
    const turn = this.writes.then(write);
    this.writes = turn.catch(() => undefined);
    return turn;
  }

  private async writeLatest(key: string): Promise<void> {
    const latest = this.entries.get(key);
    if (latest === undefined || this.written.get(key) === latest) return this.writtenLatest(key, latest);
    await this.budget.take();
    const lease = this.lease;
    const written = this.written;
    await lease.put(key).value(latest);
    written.set(key, latest);
    if (written === this.written) this.writtenLatest(key, latest);
  }

  /** `value` of `key` is under the lease: nothing of it is left to write soon, unless a newer value came. */
  private writtenLatest(key: string, value: string | undefined): void {
    if (this.entries.get(key) === value) this.soon.delete(key);
  }

  /**
   * Writes every entry whose latest value the lease does not hold yet (`all`: under a new lease), or
   * only those put `soon`, in the order they were first put.
   */
  private flushUnwritten(all: boolean): Promise<void> {
    return this.serially(async () => {
      for (const key of this.entries.keys()) if (all || this.soon.has(key)) await this.writeLatest(key);
    });
  }

  private newLease(): Lease {
    const lease = this.client.lease(this.options.ttl, { autoKeepAlive: false });
    lease.on('lost', () => this.onLost(lease));
    lease.grant().then(
      () => this.keepAlive(lease),
      () => undefined, // the grant's failure is the lease's loss (renew() handles it)
    );
    return lease;
  }

  /** Keeps `lease` alive until it is replaced, lost or closed. */
  private async keepAlive(lease: Lease): Promise<void> {
    const ttlMs = this.options.ttl * 1000;
    const backoff = new Backoff(KEEPALIVE_RETRY_MIN_MS, KEEPALIVE_RETRY_MAX_MS);
    let retrying = false;
    const current = (): boolean => this.lease === lease && !this.closed && !lease.revoked();
    while (current()) {
      await (retrying ? (this.options.pause ?? sleep)(backoff.next()) : sleep(ttlMs / 3));
      if (!current()) return;
      try {
        // A deadline: a keepalive to an etcd that stopped answering fails instead of waiting for ever.
        await lease.keepaliveOnce({ deadline: Date.now() + ttlMs / 3 });
        backoff.reset();
        // etcd is back and the lease kept: what failed to be written while it was away and is
        // wanted soon is written now.
        if (retrying) this.flushUnwritten(false).catch(() => undefined);
        retrying = false;
      } catch (err) {
        // etcd said the lease expired: keepaliveOnce has emitted its loss already. Any other
        // failure is etcd away: try again, however long it has been (see the class comment).
        if (err instanceof EtcdLeaseInvalidError || !current()) return;
        retrying = true;
      }
    }
  }

  private onLost(lease: Lease): void {
    if (this.lease !== lease || this.closed) return;
    this.lost = true;
    this.renewing ??= this.renew().finally(() => {
      this.renewing = undefined;
      // Lost again just as the rewrite ended: start over.
      if (this.lost) this.onLost(this.lease);
    });
  }

  private async renew(): Promise<void> {
    await sleep(Math.random() * this.renewSpreadMs);
    const backoff = new Backoff();
    while (!this.closed) {
      const lease = this.newLease();
      this.lease = lease;
      this.written = new Map();
      this.lost = false;
      try {
        await lease.grant();
      } catch {
        lease.release();
        await (this.options.pause ?? sleep)(backoff.next());
        continue;
      }
      // Every entry under the new lease; a put that fails is retried, and the rewrite goes on from there.
      while (!this.closed && !this.lost) {
        try {
          await this.flushUnwritten(true);
          if (this.closed) await lease.revoke().catch(() => undefined);
          return;
        } catch {
          await (this.options.pause ?? sleep)(backoff.next());
        }
      }
    }
  }
}
