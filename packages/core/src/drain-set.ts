import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { nowUnix, singleRun, tenantRoutes } from '@logyard/bus';
import { Drain, resolveFormat, UNKNOWN_FORMAT, type DrainContext, type DrainStatus, type HeldEvents } from '@logyard/drains';
import { compareNames } from '@logyard/store';
import { PrefixIndex } from './prefix-index.js';

export interface DrainDefinition {
  name: string;
  uri: string;
  builtin?: boolean;
  /** Set by the store when the entry itself is unreadable; the drain goes FATAL with it. */
  problem?: string;
  /** The drain token a tenant drain sends with its messages (docs/tenants.md). */
  token?: string;
  /**
   * Set for a tenant's drain: the prefixes its tenant owns now (none when the tenant is gone). It
   * is routed only inside them, on whole key segments (see tenantRoutes); a change re-routes it
   * without restarting it.
   */
  tenantPrefixes?: readonly string[];
}

/** What a drain would lose if the process ended now: events waiting and drops not told yet. */
export interface HeldCount {
  events: number;
  untold: HeldEvents['gaps'];
}

/**
 * The running drains of this node and the index that routes keys to them.
 * `apply` converges to a new set of definitions, or to the last one when the named formats of
 * the context changed: new drains start, deleted ones stop, drains whose URI or whose format's
 * template changed restart; the others are left alone (their buffers with them).
 * A restarted drain keeps what it held: its events when the new URI reaches the same kind of
 * target (sameKind), else their count, told in-band as `uri_changed`.
 */
export class DrainSet {
  private readonly drains = new Map<string, Drain>();
  private readonly builtin = new Set<string>();
  private readonly problems = new Map<string, string>();
  /** What each drain depends on in the context: its format's template, file roots (see contextDependency). */
  private readonly dependencies = new Map<string, string>();
  /** Null until the first definitions arrive (a change of formats before that converges nothing). */
  private definitions: ReadonlyMap<string, DrainDefinition> | null = null;
  /** The prefixes each drain is indexed under (on whole segments for tenant drains), so removal takes out exactly those. */
  private readonly routes = new Map<string, { prefixes: readonly string[]; wholeSegments: boolean; tenantPrefixes?: readonly string[] }>();
  private readonly index = new PrefixIndex<Drain>();
  /** Drops the core counted when it last stopped, by drain; handed over at the first apply. */
  private fromLastRun: Map<string, HeldEvents> | null = null;
  private closed = false;
  private queuesLooked = false;
  /** Deleted drains still closing (not in `drains` any more): close() hurries them too. */
  private readonly leaving = new Set<Drain>();
  /**
   * The drains' names in order, for statuses() (called for every status document and every live
   * part, twice per write): sorted again only after a drain came or went.
   */
  private sortedNames: string[] | undefined;

  constructor(
    private readonly context: () => DrainContext,
    private readonly hooks: {
      /** A drain was deleted; the `held` events it had were dropped with it. */
      onRemoved?: (name: string, held: number) => void;
      /** Drops counted when the core last stopped, for a drain that no longer exists. */
      onForgotten?: (name: string, held: HeldEvents) => void;
      /** At the first apply: a disk queue whose drain no longer exists (deleted while the core was down). */
      onQueueLeft?: (name: string, dir: string) => void;
    } = {},
  ) {}

  /** Before the first apply: what the core's last run left for its drains (see CoreStoppedLedger). */
  takeOverFromLastRun(left: Map<string, HeldEvents>): void {
    this.fromLastRun = left;
  }

  /** The drains whose filters match `key`. */
  drainsFor(key: string): readonly Drain[] {
    return this.index.match(key);
  }

  /** Changes whenever what drainsFor answers may have changed. */
  get routesVersion(): number {
    return this.index.version;
  }

  /** One event given as strings to every drain whose filters match its key. Returns how many matched. */
  route(key: string, json: string): number {
    const matched = this.index.match(key);
    const run = singleRun(key, json);
    for (let i = 0; i < matched.length; i++) matched[i].pushRun(run);
    return matched.length;
  }

  /**
   * Converges to the definitions `wanted` (by name), or again to the last ones (after the named formats
   * changed). With `names`, only the drains of those names are looked at (the store's watch tells
   * which changed): a drain added to 1,000 costs one, not a pass over all of them.
   */
  async apply(wanted: ReadonlyMap<string, DrainDefinition> | null = this.definitions, names?: ReadonlySet<string>): Promise<void> {
    if (this.closed || wanted === null) return;
    this.definitions = wanted;
    const context = this.context();
    const looked = names ?? new Set([...this.drains.keys(), ...wanted.keys()]);
    const fromLastRun = this.fromLastRun ?? new Map<string, HeldEvents>();
    this.fromLastRun = null;
    for (const [name, held] of fromLastRun) if (!wanted.has(name)) this.hooks.onForgotten?.(name, held);
    if (!this.queuesLooked) {
      this.queuesLooked = true;
      this.lookForQueuesLeft(wanted, context.buffersDir);
    }
    const changing: Promise<unknown>[] = [];
    for (const name of looked) {
      const drain = this.drains.get(name);
      const def = wanted.get(name);
      if (!drain) continue;
      if (!def) changing.push(this.remove(name, drain, true));
      else if (
        def.uri !== drain.uri ||
        def.token !== drain.token ||
        def.problem !== this.problems.get(name) ||
        this.dependencies.get(name) !== contextDependency(drain, context)
      ) {
        changing.push(this.replace(name, drain, def, context));
      } else if (!samePrefixes(def.tenantPrefixes, this.routes.get(name)?.tenantPrefixes)) {
        this.unindexRoutes(name, drain);
        this.indexRoutes(name, drain, def);
      }
    }
    await Promise.all(changing);
    if (this.closed) return;
    for (const name of looked) {
      const def = wanted.get(name);
      if (!def || this.drains.has(name)) continue;
      const drain = this.add(def, context);
      const left = fromLastRun.get(def.name);
      if (left) drain.adopt(left);
      drain.start();
    }
  }

  /**
   * Queues of drains deleted while the core was down are left alone (a store that answered
   * wrongly must not cost data) but named, so that an admin can delete them.
   */
  private lookForQueuesLeft(wanted: ReadonlyMap<string, DrainDefinition>, buffersDir: string | undefined): void {
    if (buffersDir === undefined) return;
    let names: string[];
    try {
      names = readdirSync(buffersDir, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name);
    } catch {
      return; // no queues yet
    }
    for (const name of names) if (!wanted.has(name)) this.hooks.onQueueLeft?.(name, join(buffersDir, name));
  }

  private add(def: DrainDefinition, context: DrainContext): Drain {
    const drain = new Drain(def.name, def.uri, def.token === undefined ? context : { ...context, drainToken: def.token }, def.problem);
    this.drains.set(def.name, drain);
    this.sortedNames = undefined;
    this.dependencies.set(def.name, contextDependency(drain, context));
    if (def.problem) this.problems.set(def.name, def.problem);
    if (def.builtin) this.builtin.add(def.name);
    this.indexRoutes(def.name, drain, def);
    return drain;
  }

  private indexRoutes(name: string, drain: Drain, def: DrainDefinition): void {
    const tenant = def.tenantPrefixes;
    // A drain that is FATAL from the start (bad URI) gets no events; no filter means every key
    // (for a tenant's drain: every key of its tenant).
    const prefixes =
      drain.status().state === 'FATAL' ? [] : tenant ? tenantRoutes(drain.filters, tenant) : drain.filters.length ? drain.filters : [''];
    this.routes.set(name, { prefixes, wholeSegments: tenant !== undefined, ...(tenant ? { tenantPrefixes: tenant } : {}) });
    for (const prefix of prefixes) this.index.add(prefix, drain, tenant !== undefined);
  }

  private unindexRoutes(name: string, drain: Drain): void {
    const routes = this.routes.get(name);
    for (const prefix of routes?.prefixes ?? []) this.index.remove(prefix, drain, routes?.wholeSegments);
    this.routes.delete(name);
  }

  /**
   * Restarts a drain whose definition or context changed. The old one stays routed while it
   * closes (it keeps what arrives), then, in one step with nothing routed in between, it hands
   * everything it holds to the new one, which sends it first: nothing lost, nothing reordered.
   * To another kind of target only the count goes (carriedOver).
   */
  private async replace(name: string, old: Drain, def: DrainDefinition, context: DrainContext): Promise<void> {
    await old.close();
    if (this.closed || this.drains.get(name) !== old) return;
    const held = carriedOver(old.release(), old.uri, def.uri);
    this.unindex(name, old);
    const next = this.add(def, context);
    next.adopt(held);
    next.start();
  }

  /** Whether a running drain sends slower than events come, with `coming` more on the way (Drain.backedUp). */
  backedUp(coming: number): boolean {
    for (const drain of this.drains.values()) if (drain.backedUp(coming)) return true;
    return false;
  }

  has(name: string): boolean {
    return this.drains.has(name);
  }

  /** The status of the drain `name`, if there is one. */
  statusOf(name: string): DrainStatus | undefined {
    return this.drains.get(name)?.status();
  }

  statuses(): DrainStatus[] {
    this.sortedNames ??= [...this.drains.keys()].sort(compareNames);
    return this.sortedNames.map((name) => this.drains.get(name)!.status());
  }

  /**
   * What each drain would lose if the process ended now, and what the last run left for drains
   * not started yet. Drains holding nothing are left out.
   */
  heldNow(): Map<string, HeldCount> {
    const held = new Map<string, HeldCount>();
    for (const [name, left] of this.fromLastRun ?? []) held.set(name, { events: left.keys.length, untold: left.gaps });
    for (const [name, drain] of this.drains) {
      const h = drain.held();
      if (h.events > 0 || h.untold.length > 0) held.set(name, h);
      else held.delete(name);
    }
    return held;
  }

  isBuiltin(name: string): boolean {
    return this.builtin.has(name);
  }

  get size(): number {
    return this.drains.size;
  }

  /**
   * Stops every drain, giving sends in flight `graceMs` before cutting them; returns what each
   * held (and what the last run left for drains that never started). Safe to call twice: the
   * second call returns nothing.
   */
  async close(graceMs?: number): Promise<Map<string, HeldEvents>> {
    this.closed = true;
    for (const drain of this.leaving) void drain.close(graceMs);
    const held = new Map<string, HeldEvents>(this.fromLastRun ?? []);
    this.fromLastRun = null;
    await Promise.all([...this.drains].map(async ([name, d]) => held.set(name, await this.remove(name, d, false, graceMs))));
    return held;
  }

  private async remove(name: string, drain: Drain, deleted: boolean, graceMs?: number): Promise<HeldEvents> {
    this.unindex(name, drain);
    this.leaving.add(drain);
    try {
      await drain.close(graceMs);
    } finally {
      this.leaving.delete(drain);
    }
    const held = drain.release();
    if (deleted) {
      // A deleted drain's disk queue goes with it (a changed URI keeps it for the same name).
      const onDisk = await drain.removeDiskQueue().catch(() => 0);
      this.hooks.onRemoved?.(name, held.keys.length + onDisk);
    }
    return held;
  }

  private unindex(name: string, drain: Drain): void {
    this.unindexRoutes(name, drain);
    this.drains.delete(name);
    this.sortedNames = undefined;
    this.builtin.delete(name);
    this.problems.delete(name);
    this.dependencies.delete(name);
  }
}

function samePrefixes(a: readonly string[] | undefined, b: readonly string[] | undefined): boolean {
  return a === b || (a !== undefined && b !== undefined && a.length === b.length && a.every((p, i) => p === b[i]));
}

/**
 * What the next run of a drain takes from its last one: everything when the target is of the
 * same kind, else only counts (the events themselves become a `uri_changed` gap).
 */
function carriedOver(held: HeldEvents, oldUri: string, newUri: string): HeldEvents {
  if (held.keys.length === 0 || sameKind(schemeOf(oldUri), schemeOf(newUri))) return held;
  return { keys: [], jsons: [], gaps: [...held.gaps, { reason: 'uri_changed', count: held.keys.length, since: nowUnix() }] };
}

/**
 * Schemes that reach the same kind of target: the secure variant of a scheme is the same kind
 * (tcp and tls, syslog and syslog+tls, http and https, redis and rediss); file and udp are
 * each their own.
 */
function sameKind(a: string, b: string): boolean {
  return schemeFamily(a) === schemeFamily(b);
}

function schemeFamily(scheme: string): string {
  if (scheme === 'tls') return 'tcp';
  return scheme.replace(/\+tls$/, '').replace(/^(https|rediss)$/, (s) => s.slice(0, -1));
}

function schemeOf(uri: string): string {
  const end = uri.indexOf('://');
  return end > 0 ? uri.slice(0, end).toLowerCase() : '';
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
