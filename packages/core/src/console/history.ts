import type { ClusterView } from '@logyard/store';

/** The graph's span (docs/live.md: the last 10 minutes) and its step. */
const SPAN_MS = 10 * 60_000;
export const SAMPLE_EVERY_MS = 5_000;

export interface RateHistory {
  /** Unix times (seconds) of the samples, oldest first. */
  t: number[];
  /** Per drain, events/s out over all nodes at each sample (null before the drain existed). */
  drains: Record<string, Array<number | null>>;
}

/**
 * The rate graph's data: the cluster's events/s out per drain, sampled from the store every
 * SAMPLE_EVERY_MS while a console is open on this core (and kept for 10 minutes), so that a core
 * nobody looks at reads nothing.
 */
export class ClusterHistory {
  private readonly samples: Array<{ at: number; drains: Map<string, number> }> = [];
  private timer: NodeJS.Timeout | undefined;
  private lastAsked = 0;

  constructor(private readonly read: () => Promise<ClusterView>) {}

  /** A console asked: keeps sampling for the next 10 minutes. */
  touch(view?: ClusterView): void {
    this.lastAsked = Date.now();
    if (view && (this.samples.length === 0 || Date.now() - this.samples[this.samples.length - 1].at >= SAMPLE_EVERY_MS)) this.add(view);
    if (this.timer) return;
    this.timer = setInterval(() => void this.sample(), SAMPLE_EVERY_MS);
    this.timer.unref();
  }

  get(): RateHistory {
    const names = new Set(this.samples.flatMap((s) => [...s.drains.keys()]));
    const drains: RateHistory['drains'] = {};
    for (const name of names) drains[name] = this.samples.map((s) => s.drains.get(name) ?? null);
    return { t: this.samples.map((s) => Math.round(s.at / 1000)), drains };
  }

  close(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  private async sample(): Promise<void> {
    if (Date.now() - this.lastAsked > SPAN_MS) {
      this.close();
      this.samples.length = 0;
      return;
    }
    try {
      this.add(await this.read());
    } catch {
      // The store is away: a gap in the graph.
    }
  }

  private add(view: ClusterView): void {
    const now = Date.now();
    this.samples.push({ at: now, drains: new Map(view.drains.map((d) => [d.name, d.out_per_s])) });
    while (this.samples.length > 0 && now - this.samples[0].at > SPAN_MS) this.samples.shift();
  }
}
