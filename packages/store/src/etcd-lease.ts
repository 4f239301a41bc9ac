import type { Etcd3, Lease } from 'etcd3';
import { Backoff, sleep, withTimeout } from './time.js';

/**
 * This node's lease and the entries kept under it (its node entry and its status document). While
 * etcd is away the lease keeps trying to renew itself; once it is lost a new one is taken, with
 * backoff, and every entry written again with its latest value. Writes go one at a time, so an
 * older value never lands after a newer one (a status racing a drain's deletion leaves no ghost).
 */
export class NodeLease {
  private lease: Lease;
  private readonly entries = new Map<string, string>();
  private writes: Promise<unknown> = Promise.resolve();
  private renewing: Promise<void> | undefined;
  private closed = false;

  constructor(
    private readonly client: Etcd3,
    private readonly ttl: number,
  ) {
    this.lease = this.newLease();
  }

  /** Writes `key` under the lease, and again under every later lease until close(). */
  put(key: string, value: string): Promise<void> {
    this.entries.set(key, value);
    // The latest value when its turn comes: of two queued writes of a key both write the newer.
    return this.serially(async () => {
      const latest = this.entries.get(key);
      if (latest !== undefined) await this.lease.put(key).value(latest);
    });
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

  private newLease(): Lease {
    const lease = this.client.lease(this.ttl);
    lease.on('lost', () => {
      if (this.lease === lease && !this.closed) this.renewing ??= this.renew().finally(() => (this.renewing = undefined));
    });
    return lease;
  }

  private async renew(): Promise<void> {
    const backoff = new Backoff();
    while (!this.closed) {
      const lease = this.newLease();
      this.lease = lease;
      try {
        await lease.grant();
        await this.serially(async () => {
          for (const [key, value] of this.entries) await lease.put(key).value(value);
        });
        if (this.closed) await lease.revoke().catch(() => undefined);
        return;
      } catch {
        lease.release();
        await sleep(backoff.next());
      }
    }
  }
}
