import { PrefixIndex } from '@logyard/bus';
import { Drain, resolveFormat, UNKNOWN_FORMAT, type DrainContext, type DrainStatus } from '@logyard/drains';

export interface DrainDefinition {
  name: string;
  uri: string;
  builtin?: boolean;
  /** Set by the store when the entry itself is unreadable; the drain goes FATAL with it. */
  problem?: string;
}

/**
 * The running drains of this node and the index that routes keys to them.
 * `apply` converges to a new set of definitions, or to the last one when the named formats of
 * the context changed: new drains start, deleted ones stop, drains whose URI or whose format's
 * template changed restart; the others are left alone (their buffers with them).
 */
export class DrainSet {
  private readonly drains = new Map<string, Drain>();
  private readonly builtin = new Set<string>();
  private readonly problems = new Map<string, string>();
  /** What each drain's output depends on among the named formats (see formatDependency). */
  private readonly formatDependencies = new Map<string, string>();
  private definitions: readonly DrainDefinition[] = [];
  /** The prefixes each drain is indexed under, so removal takes out exactly those. */
  private readonly routes = new Map<string, readonly string[]>();
  private readonly index = new PrefixIndex<Drain>();
  private closed = false;

  constructor(
    private readonly context: () => DrainContext,
    private readonly onRemoved: (name: string) => void = () => {},
  ) {}

  /** Hands one event to every drain whose filters match its key. Returns how many matched. */
  route(key: string, json: string): number {
    const matched = this.index.match(key);
    for (let i = 0; i < matched.length; i++) matched[i].push(key, json);
    return matched.length;
  }

  /** Converges to `definitions`, or again to the last ones (after the named formats changed). */
  async apply(definitions: readonly DrainDefinition[] = this.definitions): Promise<void> {
    if (this.closed) return;
    this.definitions = definitions;
    const context = this.context();
    const wanted = new Map(definitions.map((d) => [d.name, d]));
    const stopping: Promise<void>[] = [];
    for (const [name, drain] of this.drains) {
      const def = wanted.get(name);
      const changed =
        !def ||
        def.uri !== drain.uri ||
        def.problem !== this.problems.get(name) ||
        this.formatDependencies.get(name) !== formatDependency(drain, context.formats);
      if (changed) stopping.push(this.remove(name, drain, !def));
    }
    await Promise.all(stopping);
    for (const def of definitions) {
      if (this.drains.has(def.name)) continue;
      const drain = new Drain(def.name, def.uri, context, def.problem);
      this.drains.set(def.name, drain);
      this.formatDependencies.set(def.name, formatDependency(drain, context.formats));
      if (def.problem) this.problems.set(def.name, def.problem);
      if (def.builtin) this.builtin.add(def.name);
      // A drain that is FATAL from the start (bad URI) gets no events; no filter means every key.
      const routes = drain.status().state === 'FATAL' ? [] : drain.filters.length ? drain.filters : [''];
      this.routes.set(def.name, routes);
      for (const filter of routes) this.index.add(filter, drain);
      drain.start();
    }
  }

  statuses(): DrainStatus[] {
    return [...this.drains.values()].map((d) => d.status()).sort((a, b) => a.name.localeCompare(b.name));
  }

  isBuiltin(name: string): boolean {
    return this.builtin.has(name);
  }

  get size(): number {
    return this.drains.size;
  }

  /** Stops every drain, awaiting what they have in flight. Safe to call twice. */
  async close(): Promise<void> {
    this.closed = true;
    await Promise.all([...this.drains].map(([name, d]) => this.remove(name, d, false)));
  }

  private async remove(name: string, drain: Drain, deleted: boolean): Promise<void> {
    for (const filter of this.routes.get(name) ?? []) this.index.remove(filter, drain);
    this.routes.delete(name);
    this.drains.delete(name);
    this.builtin.delete(name);
    this.problems.delete(name);
    this.formatDependencies.delete(name);
    await drain.close();
    if (deleted) this.onRemoved(name);
  }
}


/**
 * The part of the named formats a drain's output depends on: its format's template. A drain FATAL
 * for an unknown format depends on all of them, so that adding the format it names brings it up;
 * one FATAL for another reason on none.
 */
function formatDependency(drain: Drain, formats: Record<string, string>): string {
  const format = drain.format;
  if (format === undefined) return drain.status().error?.includes(UNKNOWN_FORMAT) ? JSON.stringify(formats) : 'unusable URI';
  return JSON.stringify(resolveFormat(format, formats) ?? null);
}
