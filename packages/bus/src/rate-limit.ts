import { humanTime } from './time.js';

/** What a limiter reports about one key's drops, for in-band notices (docs/drains.md). */
export type RateLimitReport =
  | { kind: 'begin'; key: string; rate: number; burst: number; since: number }
  | { kind: 'end'; key: string; rate: number; dropped: number; since: number };

export interface RateLimiterOptions {
  /** Events per second refilled into each key's bucket. */
  rate: number;
  /** Bucket size: events allowed at once above the rate. */
  burst: number;
  /** Called when a key begins dropping, and with the dropped count when it passes again. */
  onReport?: (report: RateLimitReport) => void;
  /** Keys idle this long (ms) with a full bucket are forgotten. Default 60 s. */
  idleMs?: number;
  /** Clock in ms; tests and replays may pass their own. */
  now?: () => number;
}

interface Bucket {
  tokens: number;
  last: number;
  /** Drops not reported yet, and when the first of them was (unix seconds). */
  dropped: number;
  since: number;
  /** Set from the first drop of a run until the key has gone RUN_END_MS without drops. */
  inRun: boolean;
  /** Whether this run's drops have been counted in a report yet. */
  counted: boolean;
  /** When (ms) the run's last report was, and its last drop. */
  lastReport: number;
  lastDrop: number;
}

/** A run of drops reports its count at most this often while it lasts. */
const REPORT_INTERVAL_MS = 1_000;
/** A key that has not dropped for this long is calm again: its next drop begins a new run. */
const RUN_END_MS = 1_000;

/**
 * A token bucket per key: at most `rate` events/s with bursts of `burst`. `take(key)` says
 * whether an event may pass. The first drop of a run reports `begin`; the first event that
 * passes after drops reports `end` with the count, before the caller sends that event, so the
 * notice lands in the stream right where the gap is. A key that keeps flooding (events passing
 * as tokens come back, the rest dropped) stays in one run: its count is then reported at most
 * once a second, not around every event that passes. Shared by apptail, the receivers and the
 * drains' `rate`/`burst` params.
 */
export class RateLimiter {
  readonly rate: number;
  readonly burst: number;
  private readonly buckets = new Map<string, Bucket>();
  private readonly onReport: (report: RateLimitReport) => void;
  private readonly idleMs: number;
  private readonly now: () => number;
  private lastSweep: number;
  private droppedTotal = 0;

  constructor(options: RateLimiterOptions) {
    if (!(options.rate > 0) || !(options.burst >= 1)) throw new RangeError('rate must be > 0 and burst >= 1');
    this.rate = options.rate;
    this.burst = options.burst;
    this.onReport = options.onReport ?? (() => {});
    this.idleMs = options.idleMs ?? 60_000;
    this.now = options.now ?? Date.now;
    this.lastSweep = this.now();
  }

  /** The limiter's clock (ms), for a caller that takes many events at one time (see take). */
  time(): number {
    return this.now();
  }

  /**
   * True when an event of `key` may pass now (and uses one token); false when it is dropped.
   * `now`: the limiter's time() when the caller read it already (once for a burst of events).
   */
  take(key: string, now = this.now()): boolean {
    let b = this.buckets.get(key);
    if (!b) {
      b = { tokens: this.burst, last: now, dropped: 0, since: 0, inRun: false, counted: false, lastReport: 0, lastDrop: 0 };
      this.buckets.set(key, b);
      if (now - this.lastSweep > this.idleMs) this.sweep(now);
    } else {
      b.tokens = Math.min(this.burst, b.tokens + ((now - b.last) / 1000) * this.rate);
      b.last = now;
    }
    if (b.tokens >= 1) {
      b.tokens -= 1;
      if (b.inRun) this.reportDue(key, b, now);
      return true;
    }
    if (!b.inRun) {
      b.inRun = true;
      b.counted = false;
      b.lastReport = now;
      this.onReport({ kind: 'begin', key, rate: this.rate, burst: this.burst, since: now / 1000 });
    }
    if (b.dropped === 0) b.since = now / 1000;
    b.dropped++;
    b.lastDrop = now;
    this.droppedTotal++;
    return false;
  }

  /** Reports the drops of every key whose bucket has refilled enough to pass an event (a key gone quiet). */
  flush(): void {
    const now = this.now();
    for (const [key, b] of this.buckets) {
      if (!b.inRun) continue;
      const tokens = Math.min(this.burst, b.tokens + ((now - b.last) / 1000) * this.rate);
      if (tokens >= 1) this.reportDue(key, b, now);
    }
  }

  /** Events dropped so far, all keys together. */
  get dropped(): number {
    return this.droppedTotal;
  }

  /** Keys dropping right now, with their counts so far. */
  dropping(): Array<{ key: string; dropped: number; since: number }> {
    return [...this.buckets].filter(([, b]) => b.dropped > 0).map(([key, b]) => ({ key, dropped: b.dropped, since: b.since }));
  }

  forget(key: string): void {
    const b = this.buckets.get(key);
    if (b && b.dropped > 0) this.endDrops(key, b);
    this.buckets.delete(key);
  }

  /**
   * Reports a run's drops when an event passes or the key went quiet: at once the first time,
   * then at most every REPORT_INTERVAL_MS; and ends the run once the key stopped dropping.
   */
  private reportDue(key: string, b: Bucket, now: number): void {
    if (b.dropped > 0 && (!b.counted || now - b.lastReport >= REPORT_INTERVAL_MS)) {
      b.counted = true;
      b.lastReport = now;
      this.endDrops(key, b);
    }
    if (b.dropped === 0 && now - b.lastDrop >= RUN_END_MS) b.inRun = false;
  }

  private endDrops(key: string, b: Bucket): void {
    const { dropped, since } = b;
    b.dropped = 0;
    this.onReport({ kind: 'end', key, rate: this.rate, dropped, since });
  }

  private sweep(now: number): void {
    this.lastSweep = now;
    for (const [key, b] of this.buckets) {
      if (b.dropped === 0 && now - b.last > this.idleMs) this.buckets.delete(key);
    }
  }
}

/** The notice texts of docs/drains.md for a limiter's reports. */
export function rateLimitNoticeText(report: RateLimitReport): string {
  if (report.kind === 'begin') return `logyard: beginning to drop events from ${report.key} (rate limit ${report.rate}/s)`;
  return `logyard: dropped ${report.dropped} events from ${report.key} since ${humanTime(report.since)} (rate limit ${report.rate}/s)`;
}

