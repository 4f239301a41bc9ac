import { join } from 'node:path';
import { AUDIT_KEY, auditEvent, BatchReceiver, type BatchLines, corePaths, defaultListenHost, DirectPublisher, eventJson, type MalformedReason, nowUnix, singleRun, tenantOfDrain, WarningLimit } from '@logyard/bus';
import { nodeFormats, type LogyardConfig } from '@logyard/config';
import { clusterView, openStore, type DrainRecord, type DrainsUpdate, type DrainState, type NodeLive, type Store, type TenantRecord } from '@logyard/store';
import type { DrainStatus } from '@logyard/drains';
import { acquireLock, prepareRunDir, restrictSockets } from './lock.js';
import { DrainSet, type DrainDefinition } from './drain-set.js';
import { SubscriberFanout } from './fanout.js';
import { FrameRouter, type RunSink } from './frame-router.js';
import { StatusServer, type CoreStatus } from './status.js';
import { StatusPublisher } from './status-publisher.js';
import { ClusterHistory } from './rate-history.js';
import { StoreDrains } from './store-drains.js';
import { createMetrics } from './metrics.js';
import { readClientStats } from './client-stats.js';
import { stderrLogger, type Logger } from './log.js';
import { CoreError } from './errors.js';
import { CoreStoppedLedger } from './core-stopped.js';
import { VERSION } from './version.js';
import { KeyStats } from './key-stats.js';
import { DrainRates, Rates } from './rates.js';
import { consoleToken } from './console/token.js';

export interface CoreOptions {
  config: LogyardConfig;
  log?: Logger;
}

/** Settings a running core cannot change (its sockets, store and identity), by config key name. */
// max_event is built into the core's intake and disk_sync into every running queue: a reload that
// changed them for some drains and not others would be worse than a clear "at the next start".
const RESTART_ONLY_NAMES = {
  nodeId: 'node_id',
  runDir: 'run_dir',
  stateDir: 'state_dir',
  store: 'store',
  status: 'status',
  api: 'api',
  apiTls: 'api_tls',
  maxEvent: 'max_event',
  diskSync: 'disk_sync',
} as const;
const RESTART_ONLY = Object.keys(RESTART_ONLY_NAMES) as Array<keyof typeof RESTART_ONLY_NAMES>;

/**
 * How long a stopping core lets a send in flight finish before cutting it: a target that stopped
 * reading must not hold up a SIGTERM (what is not sent is counted, see CoreStoppedLedger).
 */
const STOP_GRACE_MS = 1000;
/** Keys a node publishes with its status (the rest as one `(other)` row): `streams` and `top` merge them. */
const PUBLISHED_KEYS = 100;
/** How long the core routes incoming batches before it lets the rest of the event loop run. */
const YIELD_EVERY_MS = 2;
/** The clients' counter files are read for the live picture at most this often. */
const CLIENTS_EVERY_MS = 2_000;

/**
 * The node's core: receives batches from local publishers, routes each event to the drains
 * whose filters match its key and to local subscribers, and keeps its drains converged with
 * the store.
 */
export class Core {
  /** Replaced by reload(): formats, built-in drains and file roots change while the core runs. */
  private config: LogyardConfig;
  private readonly log: Logger;
  private readonly paths;
  // A short receive queue bounds the core's memory (8 batches of about 100 KiB); while it is
  // full, publishers keep events in their own bounded queues and count what does not fit.
  // The receiver confirms each batch to its publisher and counts events lost on the way.
  // An event longer than max_event is refused there (counted), never decoded.
  private readonly ingest: BatchReceiver;
  private readonly fanout;
  private readonly drains: DrainSet;
  private readonly statusServer: StatusServer;
  private readonly coreStopped: CoreStoppedLedger;
  /** Set once this core owns the run_dir (and so the state it keeps across runs). */
  private owning = false;
  private store: Store | null = null;
  private storeWatch: { close(): Promise<void> } | null = null;
  private formatsWatch: { close(): Promise<void> } | null = null;
  private tenantsWatch: { close(): Promise<void> } | null = null;
  /** The drains API (docs/tenants.md), loaded and served only when `api:` is set. */
  private api: { close(): Promise<void> } | null = null;
  /** The store's tenants as last seen: the prefixes their drains may route (docs/tenants.md). */
  private tenants = new Map<string, TenantRecord>();
  /** Named formats of the store; the config's win over them on this node. */
  private storeFormats: Record<string, string> = {};
  private releaseLock: (() => void) | null = null;
  private statusPublisher: StatusPublisher | null = null;
  /** The web console's rate graph, kept from the start so that it shows the last 10 minutes at once. */
  private history: ClusterHistory | null = null;
  private readonly storeDrains: StoreDrains;
  private readonly started = nowUnix();
  /** Routes every batch, from publish.sock and from clients in this process. */
  private readonly router: FrameRouter;
  /** What local publishers sent that was refused is logged at most once a minute per reason (its counters have it all). */
  private readonly malformedWarnings = new WarningLimit<MalformedReason>();
  /** Events per key (logyard streams, top), counted as they are routed. */
  private readonly keyStats = new KeyStats();
  private readonly rates = new Rates();
  private readonly drainRates = new DrainRates();
  private clients: { at: number; list: NodeLive['clients'] } = { at: 0, list: [] };
  /** Events of clients running inside this process (directPublisher). */
  private directIn = 0;
  private receiving: Promise<void> | null = null;
  private applying: Promise<void> = Promise.resolve();
  /**
   * The drains the next convergence looks at: the names the store's watch said changed, or `all`
   * (the first drains, a new config, the tenants or the formats changed). A burst of changes
   * collapses into one convergence.
   */
  private pending: Set<string> | 'all' = 'all';
  /** The store's drains as last seen (the watch's own map), undefined until they first arrive. */
  private storeRecords: ReadonlyMap<string, DrainRecord> | undefined;
  /** Set while the store cannot be reached, so that an outage is logged once, not once per retry. */
  private storeTrouble: string | null = null;
  private closing: Promise<void> | null = null;

  private constructor(options: CoreOptions) {
    this.config = options.config;
    this.ingest = new BatchReceiver({ receiveHighWaterMark: 8 });
    this.log = options.log ?? stderrLogger;
    this.paths = corePaths(this.config.runDir);
    this.fanout = new SubscriberFanout(this.paths.subscribeEndpoint);
    this.drains = new DrainSet(
      () => ({
        nodeId: this.config.nodeId,
        formats: nodeFormats(this.config, this.storeFormats),
        fileDrainRoots: this.config.fileDrainRoots,
        buffersDir: join(this.config.stateDir, 'buffers'),
        diskSync: this.config.diskSync,
        onStatus: (s) => this.onDrainStatus(s),
      }),
      {
        // A drain deleted is no change of state to write at once: it leaves the status document with the
        // next counters (readers leave out drains the store no longer has), so it costs the publisher
        // no pass over the node's drains.
        onRemoved: (name, held) => {
          if (held > 0) this.log('INFO', `drain ${name} deleted; the ${held} events it held are dropped with it`);
        },
        onForgotten: (name) => this.log('INFO', `drain ${name} no longer exists; what it lost when the core last stopped is not told`),
        onQueueLeft: (name, dir) =>
          this.log('WARN', `drain ${name} no longer exists but its disk queue ${dir} is still there (see logyard buffer check); delete it if its events are not needed`),
      },
    );
    this.router = new FrameRouter({
      sinksFor: (key) => this.sinksFor(key),
      version: () => this.drains.routesVersion + this.fanout.routesVersion,
      counted: (key, events) => this.keyStats.count(key, events),
      malformed: (reason, count, sample) => {
        this.ingest.malformed[reason] += count;
        if (this.malformedWarnings.take(reason)) this.log('WARN', malformedWarning(reason, count, sample, this.config.maxEvent));
      },
    });
    this.storeDrains = new StoreDrains(this.log, (def) => this.withTenantPrefixes(def));
    this.coreStopped = new CoreStoppedLedger(this.config.stateDir, this.log);
    this.statusServer = new StatusServer(
      () => this.status(),
      () => createMetrics({ status: () => this.status(), clients: () => readClientStats(this.config.runDir) }),
      this.log,
      // The web console is loaded at its first request: a core nobody looks at never loads it.
      () =>
        import('./console/console-server.js').then(
          ({ ConsoleServer }) =>
            new ConsoleServer({
              store: () => this.store,
              nodeId: this.config.nodeId,
              storeUri: this.config.store,
              stateDir: this.config.stateDir,
              status: this.config.status,
              history: () => this.history?.get() ?? { t: [], drains: {} },
            }),
        ),
    );
  }

  /** Starts a core; rejects (having released what it took) when it cannot. */
  static async start(options: CoreOptions): Promise<Core> {
    const core = new Core(options);
    try {
      await core.open();
    } catch (err) {
      await core.close();
      throw err;
    }
    return core;
  }

  private async open(): Promise<void> {
    const { config } = this;
    prepareRunDir(config.runDir);
    this.releaseLock = acquireLock(this.paths.lockFile);
    this.owning = true;
    consoleToken(config.stateDir);
    this.drains.takeOverFromLastRun(this.coreStopped.load());
    this.store = await openStore(config.store);
    try {
      await this.ingest.bind(this.paths.publishEndpoint);
      await this.fanout.bind();
    } catch (err) {
      throw new CoreError(`cannot bind the core's sockets in ${config.runDir}: ${(err as Error).message}`, { cause: err });
    }
    await this.statusServer.listenUnix(this.paths.statusSocket);
    restrictSockets(this.paths);
    if (config.status !== 'off') await this.statusServer.listenTcp(config.status);
    await this.store.registerNode({ node_id: config.nodeId, started: this.started, version: VERSION });
    this.statusPublisher = new StatusPublisher({
      store: this.store,
      nodeId: config.nodeId,
      drains: () => this.drainStates(),
      live: (moved) => this.live(moved),
      onFailed: (err) => this.storeFailed(err),
      onWritten: () => this.storeRecovered(),
    });
    const store = this.store;
    // The drains the store holds (as the watch last saw them): a status document may still hold one just deleted.
    this.history = new ClusterHistory(async () => clusterView(await store.listNodeStatus(), new Map([...(this.storeRecords?.keys() ?? [])].map((name) => [name, {}]))));
    // Formats first, so that the first drains already see the store's named formats.
    this.formatsWatch = await this.store.watchFormats(
      (formats) => this.onStoreFormats(formats),
      (err) => this.storeFailed(err),
      () => this.storeRecovered(),
    );
    // Tenants before drains, so that a tenant's drains route inside its prefixes from the start.
    this.tenantsWatch = await this.store.watchTenants(
      (tenants) => this.onStoreTenants(tenants),
      (err) => this.storeFailed(err),
      () => this.storeRecovered(),
    );
    this.storeWatch = await this.store.watchDrains(
      (update) => this.onStoreDrains(update),
      (err) => this.storeFailed(err),
      () => this.storeRecovered(),
    );
    this.receiving = this.receive();
    this.coreStopped.watch(() => this.drains.heldNow());
    if (config.api && config.api !== 'off') await this.startApi(this.store);
    this.log('INFO', `core ${config.nodeId} listening in ${config.runDir}, store ${this.store.description}`);
  }

  status(): CoreStatus {
    return {
      node_id: this.config.nodeId,
      version: VERSION,
      pid: process.pid,
      started: this.started,
      store: this.store?.description ?? this.config.store,
      events: { in: this.eventsIn, unrouted: this.router.unrouted, malformed: { ...this.ingest.malformed }, dropped: { ...this.ingest.dropped } },
      subscribers: { sent: this.fanout.sent, dropped: this.fanout.dropped },
      memory: memoryMb(),
      drains: this.drains.statuses().map((d) => (this.drains.isBuiltin(d.name) ? { ...d, builtin: true } : d)),
    };
  }

  /**
   * Stops taking events, stops the drains (a send in flight gets STOP_GRACE_MS), counts what they
   * held (CoreStoppedLedger), then lets go of the store and the lock. Safe to call twice.
   */
  close(): Promise<void> {
    this.closing ??= (async () => {
      await this.api?.close();
      await this.statusPublisher?.close();
      this.history?.close();
      await this.storeWatch?.close().catch(() => {});
      await this.formatsWatch?.close().catch(() => {});
      await this.tenantsWatch?.close().catch(() => {});
      this.ingest.close();
      this.fanout.close();
      await this.receiving;
      // Before the convergence under way ends: a drain restarting toward a stalled target gets
      // the same short grace as the others.
      const stopping = this.drains.close(STOP_GRACE_MS);
      await this.applying;
      const held = await stopping;
      if (this.owning) this.coreStopped.stopped(held);
      await this.statusServer.close();
      await this.store?.close().catch(() => {});
      this.releaseLock?.();
    })();
    return this.closing;
  }

  /** Events taken in: from publish.sock, and from clients inside this process. */
  private get eventsIn(): number {
    return this.ingest.eventsIn + this.directIn;
  }

  /** The drains and subscribers' channels whose prefixes match `key` (FrameRouter asks once per key and change). */
  private sinksFor(key: string): readonly RunSink[] {
    const drains = this.drains.drainsFor(key);
    return this.fanout.active ? [...drains, ...this.fanout.channelsFor(key)] : drains;
  }

  /**
   * A batch from publish.sock: routed (FrameRouter), its malformed lines counted. Returns the
   * events taken. `knownValid`: its header says so (bus wire.ts), as the receivers' batches in
   * this process are; a batch that lies about it garbles only its own events' rendering.
   * Not `checked` (no mark: an older or a foreign publisher): each line's JSON is checked here.
   */
  private readonly routeBatch = (batch: Buffer, knownValid: boolean, checked: boolean): number => this.router.route(batch, this.config.maxEvent, knownValid, undefined, !checked);

  /**
   * A whole batch of this process's own clients ("LY1\n" and lines, as publish.sock carries),
   * routed as one from publish.sock is. Returns the events taken.
   */
  routeFrame(frame: Buffer, knownValid = false, lines?: BatchLines): number {
    const events = this.router.route(frame, this.config.maxEvent, knownValid, lines);
    this.directIn += events;
    this.endBatch();
    return events;
  }

  /** After the events of one batch were routed. */
  private endBatch(): void {
    this.fanout.endBatch();
    this.keyStats.endRun();
  }

  /**
   * A publisher for clients running inside this process (receive.in_core): its events are routed
   * once per turn of the event loop, as one batch from publish.sock would be (routeFrame).
   */
  directPublisher(): DirectPublisher {
    return new DirectPublisher({
      nodeId: this.config.nodeId,
      maxEvent: this.config.maxEvent,
      deliver: (batches) => {
        // A batch of the receivers' own encoder is marked so (bus WireBatch.knownValid): the
        // drains' templates then find its fields without checking its JSON again.
        for (const batch of batches) this.routeFrame(batch.body, batch.knownValid, batch.lines);
      },
      // In one process the receivers read as fast as the event loop turns, faster than a drain
      // may send: they hold tcp and unix senders back while a running drain is half full, as
      // rsyslog's queue holds imptcp back (publish.sock's publishers are paced by the core's pace).
      busy: (queued) => this.drains.backedUp(queued),
    });
  }

  /** Loaded on demand, so that a core without `api:` carries none of its code or dependencies (zod). */
  private async startApi(store: Store): Promise<void> {
    const { DrainsApi } = await import('./api/server.js');
    const { config } = this;
    const api = new DrainsApi({
      address: config.api,
      ...(config.apiTls ? { tls: config.apiTls } : {}),
      store,
      nodeId: config.nodeId,
      tenants: () => this.tenants,
      formats: () => nodeFormats(this.config, this.storeFormats),
      audit: (record) => this.publishHere(AUDIT_KEY, auditEvent(record, 'logyard core')),
      listenHost: defaultListenHost(config.store, config.nodeId),
      log: this.log,
    });
    this.api = api;
    await api.listen();
  }

  /** An event made by the core itself (an audit event of the API), routed on this node like one a client published. */
  private publishHere(key: string, fields: Record<string, unknown>): void {
    const json = eventJson(fields, this.config.nodeId);
    if (json === null) return;
    const sinks = this.sinksFor(key);
    const run = singleRun(key, json);
    for (const sink of sinks) sink.pushRun(run);
    if (sinks.length === 0) this.router.unrouted++;
    this.keyStats.count(key);
    this.directIn++;
    this.endBatch();
  }

  private async receive(): Promise<void> {
    // ZeroMQ hands over queued messages without returning to the event loop; yield every
    // YIELD_EVERY_MS so that the drains' socket writes, timers and the status API get their turn
    // while publishers are busy (drains write what the batches of a turn brought at once).
    let lastYield = performance.now();
    const afterBatch = (): Promise<void> | undefined => {
      this.endBatch();
      const now = performance.now();
      if (now - lastYield < YIELD_EVERY_MS) return undefined;
      lastYield = now;
      return yieldToEventLoop();
    };
    try {
      await this.ingest.run(this.routeBatch, afterBatch);
    } catch (err) {
      if (!this.closing) this.log('ERROR', `core: ${(err as Error).message}`);
    }
  }

  /**
   * Takes a new config (SIGHUP) without stopping: named formats, built-in drains and file roots
   * apply at once; drains whose output they change restart and hand what they hold to their next
   * run, so no event is lost. Settings that only a restart can change (sockets, store, node id)
   * are kept, and returned so the caller can say so. Resolves once the drains have converged.
   */
  async reload(config: LogyardConfig): Promise<string[]> {
    const kept = RESTART_ONLY.filter((key) => JSON.stringify(config[key]) !== JSON.stringify(this.config[key]));
    const next = { ...config };
    for (const key of kept) (next as Record<string, unknown>)[key] = this.config[key];
    this.config = next;
    this.converge('all');
    await this.applying;
    return kept.map((key) => RESTART_ONLY_NAMES[key]);
  }

  private onStoreDrains(update: DrainsUpdate): void {
    this.storeRecords = update.entries;
    this.converge(update.changed);
  }

  /** A tenant's drain routes only inside the prefixes its tenant owns now; none once the tenant is gone. */
  private withTenantPrefixes(def: DrainDefinition): DrainDefinition {
    const tenant = tenantOfDrain(def.name);
    if (tenant === undefined) return def;
    return { ...def, tenantPrefixes: this.tenants.get(tenant)?.prefixes ?? [] };
  }

  private onStoreTenants(tenants: TenantRecord[]): void {
    this.tenants = new Map(tenants.map((tenant) => [tenant.name, tenant]));
    this.converge('all');
  }

  private onStoreFormats(formats: Record<string, string>): void {
    this.storeFormats = formats;
    this.converge('all');
  }

  /**
   * Converges the drains named (or all) to the store's drains as last seen. Changes apply one after
   * another; those that come meanwhile collapse into the next convergence.
   */
  private converge(names: Iterable<string> | 'all'): void {
    if (names === 'all') this.pending = 'all';
    else if (this.pending !== 'all') for (const name of names) this.pending.add(name);
    this.applying = this.applying.then(async () => {
      // Before the store's first drains (formats and tenants come first) there is nothing to converge.
      const records = this.storeRecords;
      const pending = this.pending;
      if (records === undefined || (pending !== 'all' && pending.size === 0)) return;
      this.pending = new Set();
      if (pending === 'all') this.storeDrains.rebuild(records, this.config.builtinDrains);
      else this.storeDrains.update(records, pending);
      await this.drains.apply(this.storeDrains.definitions, pending === 'all' ? undefined : pending);
    });
  }

  /**
   * The store failed (the watch, or writing a status): logged once per outage. The drains run on
   * as last known; the store retries by itself and the status is written again once it answers.
   */
  private storeFailed(err: unknown): void {
    if (this.closing || this.storeTrouble !== null) return;
    this.storeTrouble = (err as Error)?.message ?? String(err);
    this.log('WARN', `store failing: ${this.storeTrouble}; keeping the last-known ${this.drains.size} drains and retrying`);
  }

  private storeRecovered(): void {
    if (this.storeTrouble === null) return;
    this.storeTrouble = null;
    this.log('INFO', `store ${this.store?.description ?? this.config.store} answering again`);
  }

  private onDrainStatus(status: DrainStatus): void {
    const detail = status.error ? ` (${status.error})` : '';
    this.log(status.state === 'FATAL' || status.state === 'RETRYING' ? 'WARN' : 'INFO', `drain ${status.name}: ${status.state}${detail}`);
    // A deleted drain stopping (no longer in the set) changes no row of the document.
    if (this.drains.has(status.name)) this.statusPublisher?.changed();
  }

  /**
   * What `top`, `streams` and the console show of this node, published with its status. `moved`:
   * the drains whose counters moved since the last call (the others' rates are read only while they have one).
   */
  live(moved: ReadonlySet<string>): NodeLive {
    const now = Date.now();
    if (now - this.clients.at >= CLIENTS_EVERY_MS) {
      this.clients = { at: now, list: readClientStats(this.config.runDir).map((c) => ({ name: c.client, running: c.running })) };
    }
    const { keys, other } = this.keyStats.busiest(PUBLISHED_KEYS);
    const drains = this.drainRates.read(moved, (name) => this.drains.statusOf(name));
    const eventsIn = this.eventsIn;
    const live: NodeLive = { in: eventsIn, in_per_s: this.rates.rate('\0in', eventsIn), clients: this.clients.list, keys, ...(other ? { other } : {}), drains };
    this.rates.sweep();
    return live;
  }

  /** This node's drains as its status document in the store holds them. */
  private drainStates(): Record<string, DrainState> {
    return Object.fromEntries(
      this.drains.statuses().map(({ name, state, error, sent, dropped, buffered, disk_bytes, disk_events }) => [
        name,
        {
          state,
          ...(error === undefined ? {} : { error }),
          sent,
          dropped,
          buffered,
          ...(disk_bytes === undefined ? {} : { disk_bytes, disk_events }),
          ...(this.drains.isBuiltin(name) ? { builtin: true } : {}),
        },
      ]),
    );
  }
}

function memoryMb(): CoreStatus['memory'] {
  const m = process.memoryUsage();
  const mb = (n: number): number => Math.round(n / 1e5) / 10;
  return { rss_mb: mb(m.rss), heap_used_mb: mb(m.heapUsed), heap_total_mb: mb(m.heapTotal), external_mb: mb(m.external) };
}

function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** The log line for refused lines of a publish.sock batch: what was wrong, and the first of them. */
function malformedWarning(reason: MalformedReason, count: number, sample: string | undefined, maxEvent: number): string {
  const events = count === 1 ? 'event' : 'events';
  const what =
    reason === 'bad_batch'
      ? 'a message that is not a batch'
      : reason === 'bad_key'
        ? `${count} ${events} (key not valid)`
        : reason === 'bad_event'
          ? `${count} ${events} (not one JSON object in UTF-8)`
          : `${count} ${events} (longer than max_event, ${maxEvent} bytes)`;
  const first = sample === undefined ? '' : `, the first beginning ${JSON.stringify(sample)}`;
  return `dropping ${what} from a local publisher${first} (counted in malformed ${reason}; logged at most once a minute)`;
}
