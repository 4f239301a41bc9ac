import { PrefixIndex } from './prefix-index.js';
import { Drain, resolveFormat, UNKNOWN_FORMAT, type DrainContext, type DrainStatus } from '@logyard/drains';
import { compareNames } from '@logyard/store';

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
  /** What each drain depends on in the context: its format's template, file roots (see contextDependency). */
  private readonly dependencies = new Map<string, string>();
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
    const changing: Promise<void>[] = [];
    for (const [name, drain] of this.drains) {
      const def = wanted.get(name);
      if (!def) changing.push(this.remove(name, drain, true));
      else if (
        def.uri !== drain.uri ||
        def.problem !== this.problems.get(name) ||
        this.dependencies.get(name) !== contextDependency(drain, context)
      ) {
        changing.push(this.replace(name, drain, def, context));
      }
    }
    await Promise.all(changing);
    for (const def of definitions) {
      if (!this.drains.has(def.name)) this.add(def, context).start();
    }
  }

  private add(def: DrainDefinition, context: DrainContext): Drain {
    const drain = new Drain(def.name, def.uri, context, def.problem);
    this.drains.set(def.name, drain);
    this.dependencies.set(def.name, contextDependency(drain, context));
    if (def.problem) this.problems.set(def.name, def.problem);
    if (def.builtin) this.builtin.add(def.name);
    // A drain that is FATAL from the start (bad URI) gets no events; no filter means every key.
    const routes = drain.status().state === 'FATAL' ? [] : drain.filters.length ? drain.filters : [''];
    this.routes.set(def.name, routes);
    for (const filter of routes) this.index.add(filter, drain);
    return drain;
  }

  /**
   * Restarts a drain whose definition or context changed. The old one stays routed while it
   * closes (it keeps what arrives), then, in one step with nothing routed in between, it hands
   * everything it holds to the new one, which sends it first: nothing lost, nothing reordered.
   */
  private async replace(name: string, old: Drain, def: DrainDefinition, context: DrainContext): Promise<void> {
    await old.close();
    if (this.closed || this.drains.get(name) !== old) return;
    const held = old.release();
    this.unindex(name, old);
    const next = this.add(def, context);
    next.adopt(held);
    next.start();
  }

  statuses(): DrainStatus[] {
    return [...this.drains.values()].map((d) => d.status()).sort((a, b) => compareNames(a.name, b.name));
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
    this.unindex(name, drain);
    await drain.close();
    if (deleted) {
      // A deleted drain's disk queue goes with it (a changed URI keeps it for the same name).
      await drain.removeDiskQueue().catch(() => undefined);
      this.onRemoved(name);
    }
  }

  private unindex(name: string, drain: Drain): void {
    for (const filter of this.routes.get(name) ?? []) this.index.remove(filter, drain);
    this.routes.delete(name);
    this.drains.delete(name);
    this.builtin.delete(name);
    this.problems.delete(name);
    this.dependencies.delete(name);
  }
}


/**
 * What of the context a drain depends on: its format's template among the named formats (a drain
 * FATAL for an unknown format depends on all of them, so that adding the format it names brings
 * it up; one FATAL for another reason on none) and, for a file drain, the file roots.
 */
function contextDependency(drain: Drain, context: DrainContext): string {
  const roots = drain.uri.startsWith('file:') ? JSON.stringify(context.fileDrainRoots) : '';
  const format = drain.format;
  if (format === undefined) return drain.status().error?.includes(UNKNOWN_FORMAT) ? JSON.stringify(context.formats) + roots : 'unusable URI' + roots;
  return JSON.stringify(resolveFormat(format, context.formats) ?? null) + roots;
}
