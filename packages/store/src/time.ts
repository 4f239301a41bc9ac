/** Backoff between attempts to re-list, to watch again or to get a new lease while the store is away. */
export const RETRY_MIN_MS = 250;
export const RETRY_MAX_MS = 5_000;

export class TimeoutError extends Error {}

/** Rejects with a TimeoutError when `promise` has not settled within `ms`. */
export function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new TimeoutError(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}

/** `ms` ±20 %, so that many nodes retrying after the same outage do not retry in step. */
export function jitter(ms: number): number {
  return Math.round(ms * (0.8 + Math.random() * 0.4));
}

/** Doubling waits from `fromMs` up to `maxMs`: next() gives the wait (with jitter) and doubles; reset() starts over. */
export class Backoff {
  private ms: number;

  constructor(
    private readonly fromMs = RETRY_MIN_MS,
    private readonly maxMs = RETRY_MAX_MS,
  ) {
    this.ms = fromMs;
  }

  next(): number {
    const wait = jitter(this.ms);
    this.ms = Math.min(this.ms * 2, this.maxMs);
    return wait;
  }

  reset(): void {
    this.ms = this.fromMs;
  }
}
