/**
 * A warning that repeats (malformed input, say) is logged at most once a minute per kind: seen by
 * whoever reads the log, never a flood of it; the counters have every occurrence.
 */
export class WarningLimit<K = string> {
  private readonly loggedAt = new Map<K, number>();

  constructor(
    private readonly everyMs = 60_000,
    private readonly now: () => number = Date.now,
  ) {}

  /** Whether a warning of `kind` may be logged now; if so, the next waits a minute. */
  take(kind: K): boolean {
    const now = this.now();
    const last = this.loggedAt.get(kind);
    if (last !== undefined && now - last < this.everyMs) return false;
    this.loggedAt.set(kind, now);
    return true;
  }
}
