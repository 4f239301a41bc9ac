import type { NodeLive } from '@logyard/store';

/** Rates shown live (top, the console) are over about this long: steady, yet quick to follow a change. */
const WINDOW_MS = 10_000;
/** Samples closer together than this are not kept. */
const SAMPLE_GAP_MS = 1_000;
/** How often DrainRates forgets the drains that went while idle (it reads only those that move). */
const FORGET_EVERY_MS = 60_000;

/**
 * Per-second rates of ever-growing counters (events in, sent, dropped by reason), from samples
 * taken when they are read: at most WINDOW_MS / SAMPLE_GAP_MS samples per counter. A counter not
 * read for a while has no rate until its next two readings (0 until then).
 */
export class Rates {
  private readonly series = new Map<string, Series>();
  /** Counters read since the last sweep carry this number (one Map lookup per reading, no Set of names). */
  private generation = 0;

  constructor(readonly now: () => number = Date.now) {}

  /** The rate of the counter `name`, which is now `value`. */
  rate(name: string, value: number): number {
    return this.rateAt(name, value, this.now());
  }

  /** Forgets counter `name` and its parts. */
  forget(name: string): void {
    this.series.delete(name);
  }

  /** Forgets the counters whose name `keep` refuses, and their parts. */
  forgetUnless(keep: (name: string) => boolean): void {
    for (const name of this.series.keys()) if (!keep(name)) this.series.delete(name);
  }

  /** Forgets the counters not read since the last call, with their parts (clients gone). */
  sweep(): void {
    for (const [name, series] of this.series) if (series.readIn !== this.generation) this.series.delete(name);
    this.generation++;
  }

  /** rate() at a time already read: a node reads thousands of counters at once. */
  rateAt(name: string, value: number, now: number): number {
    return this.sample(this.seriesOf(name), value, now);
  }

  /**
   * The rate of part `part` of counter `name` (a drain's drops by reason, beside its sent count):
   * kept with it, so that reading a thousand drains' reasons builds no `name + reason` key each time.
   */
  partRateAt(name: string, part: string, value: number, now: number): number {
    const series = this.seriesOf(name);
    series.parts ??= new Map();
    let counter = series.parts.get(part);
    if (!counter) series.parts.set(part, (counter = { samples: [] }));
    return this.sample(counter, value, now);
  }

  private seriesOf(name: string): Series {
    let series = this.series.get(name);
    if (!series) this.series.set(name, (series = { samples: [], readIn: this.generation }));
    series.readIn = this.generation;
    return series;
  }

  private sample(counter: Counter, value: number, now: number): number {
    const samples = counter.samples;
    // Not moved over the whole window (counters only grow): one sample, kept at most a window old,
    // stands for all the ones it would have taken, so an idle drain's counters make no garbage.
    if (samples.length > 0 && samples[0].value === value) {
      if (samples.length > 1) samples.length = 1;
      const oldest = now - (WINDOW_MS - SAMPLE_GAP_MS);
      if (samples[0].at < oldest) samples[0].at = oldest;
      return 0;
    }
    // Moved after it was not read for a while (DrainRates reads a drain only once it moves): its one
    // sample stands for the readings it would have had, as if it had been read all along.
    if (samples.length === 1 && samples[0].at < now - WINDOW_MS) samples[0].at = now - WINDOW_MS;
    const last = samples[samples.length - 1];
    // A counter that went down started again (a drain restarted): its old samples are no guide.
    if (last && value < last.value) samples.length = 0;
    if (samples.length === 0 || now - samples[samples.length - 1].at >= SAMPLE_GAP_MS) samples.push({ at: now, value });
    while (samples.length > 2 && now - samples[1].at >= WINDOW_MS) samples.shift();
    const first = samples[0];
    const span = now - first.at;
    return span < SAMPLE_GAP_MS ? 0 : Math.round(((value - first.value) * 1000 * 100) / span) / 100;
  }
}

interface Counter {
  samples: Array<{ at: number; value: number }>;
}

interface Series extends Counter {
  /** The generation it was last read in. */
  readIn: number;
  /** Counters that are parts of it, by part (partRateAt): forgotten with it. */
  parts?: Map<string, Counter>;
}

/** A drain's counters, as its status has them. */
export interface DrainCounters {
  sent: number;
  dropped: Record<string, number>;
}

/**
 * The `live` rates of a node's drains, from their counters: only the drains and reasons with a rate
 * above 0 (readers take a missing rate for 0; most drains of a node of 1,000 are idle, and their
 * zero rates were half of its status document). It reads only the drains that may have a rate: those whose counters moved since the last reading (the status encoder tells which, from the
 * pass over the drains it makes anyway) and those that had a rate at the last reading. On a node of
 * 1,000 drains with 10 busy, a status write reads 10 drains' counters, not 1,000. An idle drain
 * keeps its last sample, so that its rate is there as soon as it moves; drains gone are forgotten
 * when read, and those that went while idle every minute.
 */
export class DrainRates {
  private readonly rates: Rates;
  private active = new Set<string>();
  private forgotAt: number;

  constructor(now: () => number = Date.now) {
    this.rates = new Rates(now);
    this.forgotAt = now();
  }

  /** The rates of the drains with one; `counters` gives a drain's counters, undefined once it is gone. */
  read(moved: Iterable<string>, counters: (name: string) => DrainCounters | undefined): NodeLive['drains'] {
    const now = this.rates.now();
    const looked = new Set(this.active);
    for (const name of moved) looked.add(name);
    this.active = new Set();
    const live: NodeLive['drains'] = {};
    for (const name of looked) {
      const drain = counters(name);
      if (!drain) {
        this.rates.forget(name);
        continue;
      }
      const rate = drainRate(this.rates, name, drain, now);
      if (!rate) continue;
      live[name] = rate;
      this.active.add(name);
    }
    if (now - this.forgotAt >= FORGET_EVERY_MS) {
      this.forgotAt = now;
      this.rates.forgetUnless((name) => counters(name) !== undefined);
    }
    return live;
  }
}

/** A drain's rates, or undefined when all are 0. */
function drainRate(rates: Rates, name: string, drain: DrainCounters, now: number): NodeLive['drains'][string] | undefined {
  // The drain's name alone keys its sent counter, and its drop reasons are parts of it: no new
  // string to hash for each drain at each reading.
  const out = rates.rateAt(name, drain.sent, now);
  let dropped: Record<string, number> | undefined;
  for (const reason in drain.dropped) {
    const rate = rates.partRateAt(name, reason, drain.dropped[reason], now);
    if (rate > 0) (dropped ??= {})[reason] = rate;
  }
  return out > 0 || dropped ? { out_per_s: out, dropped_per_s: dropped ?? {} } : undefined;
}
