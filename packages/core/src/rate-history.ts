import type { ClusterView } from '@logyard/store';

/** The graph's step, and how many steps it keeps: the last 10 minutes (docs/live.md). */
export const SAMPLE_EVERY_MS = 5_000;
const SAMPLES = 120;
const SPAN_MS = SAMPLE_EVERY_MS * SAMPLES;
/**
 * Up to this many nodes every core samples all the time. Each sample reads every node's status
 * document, so in a larger cluster that would cost the store nodes x nodes reads every 5 s: there
 * a core samples only while a console has looked in the last 10 minutes.
 */
export const ALWAYS_SAMPLED_NODES = 16;

export interface RateHistory {
  /** Unix times (seconds) of the samples, oldest first. */
  t: number[];
  /** Per drain, events/s out over all nodes at each sample (null before the drain existed). */
  drains: Record<string, Array<number | null>>;
}

/**
 * The web console's rate graph: the cluster's events/s out per drain, sampled every
 * SAMPLE_EVERY_MS from the nodes' status documents for as long as the core runs, so that a
 * console opened at any time shows the last 10 minutes at once. One store read per sample, no
 * write; memory is a fixed ring of SAMPLES numbers per drain, and a drain that no longer exists
 * loses its history at the next sample.
 */
export class ClusterHistory {
  /** Sample times (ms), a ring: `next` is where the next sample goes. */
  private readonly times = new Float64Array(SAMPLES);
  /** Per drain, its rate at each slot of `times`; NaN where it had none. */
  private readonly drains = new Map<string, Float64Array>();
  private next = 0;
  private count = 0;
  private readonly timer: NodeJS.Timeout;
  private sampling = false;
  /** Nodes in the last sample, and when (ms) a console last asked for the history. */
  private lastNodes = 0;
  private lastAsked = -Infinity;

  constructor(
    private readonly read: () => Promise<ClusterView>,
    private readonly now: () => number = Date.now,
    everyMs = SAMPLE_EVERY_MS,
  ) {
    this.timer = setInterval(() => void this.sample(), everyMs);
    this.timer.unref();
  }

  get(): RateHistory {
    const now = this.now();
    this.lastAsked = now;
    const slots: number[] = [];
    for (let i = this.count; i > 0; i--) {
      const slot = (this.next - i + SAMPLES) % SAMPLES;
      // Samples missed while the store was away leave older ones behind: only 10 minutes show.
      if (now - this.times[slot] <= SPAN_MS) slots.push(slot);
    }
    const drains: RateHistory['drains'] = {};
    for (const [name, rates] of this.drains) drains[name] = slots.map((slot) => (Number.isNaN(rates[slot]) ? null : rates[slot]));
    return { t: slots.map((slot) => Math.round(this.times[slot] / 1000)), drains };
  }

  /** Stops sampling. Safe to call twice. */
  close(): void {
    clearInterval(this.timer);
  }

  /** Takes one sample now (the timer's work; tests call it to not wait). */
  async sample(): Promise<void> {
    if (this.sampling) return;
    if (this.lastNodes > ALWAYS_SAMPLED_NODES && this.now() - this.lastAsked > SPAN_MS) return;
    this.sampling = true;
    try {
      this.add(await this.read());
    } catch {
      // The store is away: a gap in the graph.
    } finally {
      this.sampling = false;
    }
  }

  private add(view: ClusterView): void {
    this.lastNodes = view.nodes.length;
    const slot = this.next;
    this.times[slot] = this.now();
    const present = new Set<string>();
    for (const drain of view.drains) {
      present.add(drain.name);
      let rates = this.drains.get(drain.name);
      if (!rates) this.drains.set(drain.name, (rates = new Float64Array(SAMPLES).fill(NaN)));
      rates[slot] = drain.out_per_s;
    }
    for (const name of this.drains.keys()) if (!present.has(name)) this.drains.delete(name);
    this.next = (slot + 1) % SAMPLES;
    this.count = Math.min(this.count + 1, SAMPLES);
  }
}
