import { Publisher, Subscriber } from '@logyard/bus';
import type { EventRule, LogyardConfig, Severity } from '@logyard/config';

/** Rules by systail name (or `__all__`), then by event type, as in config `events.rules`. */
export type EventRules = Record<string, Record<string, EventRule>>;

export interface CompiledRule {
  type: string;
  substring?: string;
  regex: RegExp;
  format: string;
  severity: Severity;
}

export interface EventFields {
  text: string;
  type: string;
  desc: string;
  severity: Severity;
  process: string;
  info: Record<string, unknown>;
}

/** Merges rule sets; a later set's rule of the same name and type replaces the earlier one. */
export function mergeRules(...sets: EventRules[]): EventRules {
  const out: EventRules = {};
  for (const set of sets) for (const [name, rules] of Object.entries(set)) out[name] = { ...(out[name] ?? {}), ...rules };
  return out;
}

/**
 * Turns systail lines into events. A line of systail name N is tried against N's rules, then the
 * `__all__` rules, in file order; the first that matches makes the event (one event per line).
 */
export class EventMatcher {
  private readonly byName = new Map<string, CompiledRule[]>();
  private readonly all: CompiledRule[];

  constructor(rules: EventRules) {
    const compile = (group: Record<string, EventRule>): CompiledRule[] =>
      Object.entries(group).map(([type, r]) => ({
        type,
        ...(r.substring === undefined ? {} : { substring: r.substring }),
        regex: new RegExp(r.regex),
        format: r.format,
        severity: r.severity,
      }));
    for (const [name, group] of Object.entries(rules)) if (name !== '__all__') this.byName.set(name, compile(group));
    this.all = compile(rules.__all__ ?? {});
  }

  get size(): number {
    let n = this.all.length;
    for (const r of this.byName.values()) n += r.length;
    return n;
  }

  match(name: string, text: string): EventFields | null {
    for (const rules of [this.byName.get(name), this.all]) {
      if (!rules) continue;
      for (const rule of rules) {
        if (rule.substring !== undefined && !text.includes(rule.substring)) continue;
        const m = rule.regex.exec(text);
        if (!m) continue;
        const desc = rule.format.replace(/\$(\d+)/g, (_, i: string) => m[Number(i)] ?? '');
        return {
          text: desc,
          type: rule.type,
          desc,
          severity: rule.severity,
          process: name,
          info: { line: text, systail_name: name },
        };
      }
    }
    return null;
  }
}

export interface EventsStats {
  received: number;
  matched: number;
  /** systail events that were not JSON objects with a text. */
  malformed: number;
  published: number;
  sent: number;
  dropped: number;
}

/** events: subscribes to `systail` on the local core and publishes `event.<type>`. */
export class Events {
  private readonly counters = { received: 0, matched: 0, malformed: 0 };
  private readonly done: Promise<void>;

  private constructor(
    private readonly subscriber: Subscriber,
    private readonly publisher: Publisher,
    private readonly matcher: EventMatcher,
  ) {
    this.done = this.run();
  }

  static async start(options: { config: LogyardConfig; rules?: EventRules }): Promise<Events> {
    const { config } = options;
    const matcher = new EventMatcher(options.rules ?? config.events.rules);
    const subscriber = new Subscriber({ runDir: config.runDir, prefixes: ['systail'] });
    const publisher = new Publisher({ runDir: config.runDir, nodeId: config.nodeId, maxEvent: config.maxEvent });
    return new Events(subscriber, publisher, matcher);
  }

  get rules(): number {
    return this.matcher.size;
  }

  stats(): EventsStats {
    const p = this.publisher.stats();
    return { ...this.counters, published: p.published, sent: p.sent, dropped: Object.values(p.dropped).reduce((a, b) => a + b, 0) };
  }

  async close(): Promise<void> {
    this.subscriber.close();
    await this.done.catch(() => {});
    await this.publisher.close(5000);
  }

  private async run(): Promise<void> {
    for await (const { key, json } of this.subscriber) {
      this.counters.received++;
      let ev: { text?: unknown; name?: unknown; node_id?: unknown };
      try {
        ev = JSON.parse(json);
      } catch {
        this.counters.malformed++;
        continue;
      }
      if (typeof ev?.text !== 'string') {
        this.counters.malformed++;
        continue;
      }
      // systail.<name>.<node_id>: the name is the event's field, else the key's second segment.
      const name = typeof ev.name === 'string' ? ev.name : (key.split('.')[1] ?? '');
      const fields = this.matcher.match(name, ev.text);
      if (!fields) continue;
      this.counters.matched++;
      const out: Record<string, unknown> = { ...fields };
      if (typeof ev.node_id === 'string') out.node_id = ev.node_id;
      this.publisher.publish(`event.${fields.type}`, out);
    }
  }
}
