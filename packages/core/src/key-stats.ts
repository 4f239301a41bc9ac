import { OTHER_KEYS, type KeyRate } from '@logyard/store';

/** The window is kept in buckets of this length: 60 of them make the 10 minutes of `logyard streams`. */
const BUCKET_MS = 10_000;
const BUCKETS = 60;
/** The rate `streams` and `top` show is over the last minute (docs/live.md). */
const RATE_WINDOW_MS = 60_000;
/** Keys followed one by one; the rest are counted together as `(other)`. */
const DEFAULT_TRACKED = 1_000;

interface KeyCounts {
  /**
   * Events per bucket, the oldest overwritten (ring at `KeyStats.slot`). Made when the key's first
   * bucket is complete: a key of a flood that is folded into `(other)` before then costs no ring.
   */
  buckets: Uint32Array | null;
  /** Events of the bucket under way. */
  current: number;
  /** Events in `buckets` together. */
  total: number;
  lastSeenMs: number;
}

/**
 * Events per key over the last 10 minutes in bounded memory: the busiest `tracked` keys each have
 * their own counts, every other key is added to one `(other)` row. A key enters on its first event;
 * when twice `tracked` keys are followed the least busy half is folded into `(other)`, so that a
 * flood of distinct keys costs a sort now and then and never more memory (about 300 bytes a key).
 *
 * `count` is on the core's hot path: equal keys in a row (a batch from one publisher) cost one
 * string comparison each, and one Map lookup per run.
 */
export class KeyStats {
  private readonly keys = new Map<string, KeyCounts>();
  private readonly other = newCounts(true);
  private readonly started: number;
  private slot = 0;
  private bucketStarted: number;
  private runKey = '';
  private runLength = 0;

  constructor(
    private readonly tracked = DEFAULT_TRACKED,
    private readonly now: () => number = Date.now,
  ) {
    this.started = this.bucketStarted = now();
  }

  /** `events` events (default one) of `key`. */
  count(key: string, events = 1): void {
    if (key === this.runKey) {
      this.runLength += events;
      return;
    }
    this.endRun();
    this.runKey = key;
    this.runLength = events;
  }

  /** Adds the run of equal keys under way (after each batch, and before reading). */
  endRun(): void {
    if (this.runLength === 0) return;
    const now = this.now();
    if (now - this.bucketStarted >= BUCKET_MS) this.rotate(now);
    let counts = this.keys.get(this.runKey);
    if (!counts) {
      if (this.keys.size >= this.tracked * 2) this.foldLeastBusy();
      // A copy of its own: the key as received is a slice of its whole batch, which it would keep alive.
      this.keys.set(Buffer.from(this.runKey).toString(), (counts = newCounts()));
    }
    counts.current += this.runLength;
    counts.lastSeenMs = now;
    this.runLength = 0;
  }

  /** How many keys are followed one by one now (at most twice `tracked`). */
  get size(): number {
    return this.keys.size;
  }

  /**
   * The `limit` busiest keys of the last 10 minutes (by events in that time) with their rate over
   * the last minute, and the others together as `(other)` (undefined when there are none).
   */
  busiest(limit: number): { keys: KeyRate[]; other: KeyRate | undefined } {
    this.endRun();
    const now = this.now();
    this.rotate(now);
    // The bucket under way and the complete ones before it that fit in the minute; a core up for
    // less than that counts since it started.
    const complete = Math.floor((RATE_WINDOW_MS - (now - this.bucketStarted)) / BUCKET_MS);
    const windowMs = Math.max(1_000, Math.min(now - this.bucketStarted + complete * BUCKET_MS, now - this.started));
    const rows = [...this.keys].map(([key, counts]) => ({ key, counts, inWindow: countsTotal(counts) }));
    rows.sort((a, b) => b.inWindow - a.inWindow);
    const rate = (counts: KeyCounts): KeyRate['events_per_s'] => round2((lastBuckets(counts, this.slot, complete) * 1000) / windowMs);
    const keys = rows.slice(0, limit).map(({ key, counts, inWindow }) => ({
      key,
      events_per_s: rate(counts),
      events_10m: inWindow,
      last_seen: Math.floor(counts.lastSeenMs / 1000),
    }));
    const other = newCounts(true);
    addCounts(other, this.other);
    for (const { counts } of rows.slice(limit)) addCounts(other, counts);
    const otherTotal = countsTotal(other);
    return {
      keys,
      other: otherTotal === 0 ? undefined : { key: OTHER_KEYS, events_per_s: rate(other), events_10m: otherTotal, last_seen: Math.floor(other.lastSeenMs / 1000) },
    };
  }

  /** Starts new buckets for the time gone by; keys with no event in 10 minutes are forgotten. */
  private rotate(now: number): void {
    while (now - this.bucketStarted >= BUCKET_MS) {
      this.bucketStarted += BUCKET_MS;
      // After a long quiet spell, the whole window is empty: no need to turn it bucket by bucket.
      const quiet = now - this.bucketStarted >= BUCKET_MS * BUCKETS;
      if (quiet) this.bucketStarted = now - ((now - this.bucketStarted) % BUCKET_MS);
      this.slot = (this.slot + 1) % BUCKETS;
      for (const [key, counts] of this.keys) {
        if (quiet) clearCounts(counts);
        else shiftCounts(counts, this.slot);
        if (counts.total === 0 && counts.current === 0) this.keys.delete(key);
      }
      if (quiet) clearCounts(this.other);
      else shiftCounts(this.other, this.slot);
    }
  }

  /** Keeps the `tracked` busiest keys; the others' counts go to `(other)`. */
  private foldLeastBusy(): void {
    const rows = [...this.keys].sort((a, b) => countsTotal(b[1]) - countsTotal(a[1]));
    for (const [key, counts] of rows.slice(this.tracked)) {
      addCounts(this.other, counts);
      this.keys.delete(key);
    }
  }
}

/** Events of the bucket under way and of the `complete` buckets before it. */
function lastBuckets(counts: KeyCounts, slot: number, complete: number): number {
  let sum = counts.current;
  if (counts.buckets === null) return sum;
  for (let i = 0; i < complete; i++) sum += counts.buckets[(slot - i + BUCKETS) % BUCKETS];
  return sum;
}

function newCounts(withBuckets = false): KeyCounts {
  return { buckets: withBuckets ? new Uint32Array(BUCKETS) : null, current: 0, total: 0, lastSeenMs: 0 };
}

function countsTotal(counts: KeyCounts): number {
  return counts.total + counts.current;
}

/** The bucket under way is complete: it takes the place of the oldest, at `slot`. */
function shiftCounts(counts: KeyCounts, slot: number): void {
  if (counts.buckets === null) {
    if (counts.current === 0) return;
    counts.buckets = new Uint32Array(BUCKETS);
  }
  counts.total += counts.current - counts.buckets[slot];
  counts.buckets[slot] = counts.current;
  counts.current = 0;
}

function clearCounts(counts: KeyCounts): void {
  counts.buckets?.fill(0);
  counts.total = 0;
  counts.current = 0;
}

/** Adds `from` to `into`, which has its ring. */
function addCounts(into: KeyCounts, from: KeyCounts): void {
  if (from.buckets !== null) for (let i = 0; i < BUCKETS; i++) into.buckets![i] += from.buckets[i];
  into.total += from.total;
  into.current += from.current;
  into.lastSeenMs = Math.max(into.lastSeenMs, from.lastSeenMs);
}

function round2(n: number): number {
  return Math.round(n * 100) / 100;
}
