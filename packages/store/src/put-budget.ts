import { sleep } from './time.js';

/**
 * A token bucket of puts: at most `perSecond` on average, `burst` at once. A node's writes wait
 * for a token, so that no bug or storm (a flapping drain, a rewrite after an outage) can make one
 * node cost etcd more than its share, whatever the number of nodes.
 */
export class PutBudget {
  private tokens: number;
  private refilledAt = Date.now();

  constructor(
    private readonly perSecond: number,
    private readonly burst: number,
  ) {
    this.tokens = burst;
  }

  /** Resolves once a put may go (at once while the bucket has tokens). */
  async take(): Promise<void> {
    for (;;) {
      this.refill();
      if (this.tokens >= 1) {
        this.tokens -= 1;
        return;
      }
      await sleep(Math.ceil(((1 - this.tokens) / this.perSecond) * 1000));
    }
  }

  private refill(): void {
    const now = Date.now();
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.refilledAt) / 1000) * this.perSecond);
    this.refilledAt = now;
  }
}
