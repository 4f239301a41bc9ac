import type { StoreError } from './errors.js';

/** A drain as kept in the store (docs/store.md). */
export interface DrainRecord {
  name: string;
  uri: string;
  /** Unix time (seconds) of the last add or replace; absent when a hand-written entry does not say. */
  created?: number;
  /** Set for drains that live only while their creator refreshes them (`logyard tail`). */
  temporary?: boolean;
  /** The drain token (`d.<uuid>`) sent with every message of a tenant's drain (docs/tenants.md). */
  token?: string;
  /**
   * Set when the stored entry cannot be run: a name that is no drain name (`/logyard/drains/a!bad`),
   * a value that is not JSON or has no `uri` (`uri` is then empty). Starts with the entry's key.
   * Such an entry is listed rather than hidden so that `drain list` shows it and a core reports it.
   */
  problem?: string;
}

/** A tenant of the drains API (docs/tenants.md); the store never holds its token, only the token's SHA-256. */
export interface TenantRecord {
  name: string;
  /** Key prefixes it owns, whole key segments. */
  prefixes: string[];
  /** SHA-256 (hex) of the whole token string. */
  token_sha256: string;
  /** Unix time (seconds) the tenant was added. */
  created: number;
  /** Set when the stored entry cannot be used (not JSON, a field missing): such a tenant owns nothing and no token opens it. */
  problem?: string;
}

/** Options of putDrain. */
export interface PutDrainOptions {
  /** The drain token to keep in the entry (a tenant drain's, docs/tenants.md). */
  token?: string;
}

/** A drain's state and counters on one node (docs/drains.md). */
export interface DrainState {
  state: string;
  /** Why the drain is RETRYING or FATAL. */
  error?: string;
  sent: number;
  /** Dropped events by reason. */
  dropped: Record<string, number>;
  buffered: number;
  /** Drains with `disk`: the bytes of its queue's files and the events in it. */
  disk_bytes?: number;
  disk_events?: number;
  /** Set for drains the node's config defines (builtin.*), which the store does not list. */
  builtin?: boolean;
}

/** One node's status document (docs/store.md): every drain on the node, written by its core. */
export interface NodeStatus {
  node_id: string;
  /** Unix time (seconds) of this write. */
  updated: number;
  /** By drain name. */
  drains: Record<string, DrainState>;
  /** What `logyard top`, `streams` and the web console show of the node (docs/live.md); absent from older cores. */
  live?: NodeLive;
}

/** One key's traffic on one node (`logyard streams`). */
export interface KeyRate {
  key: string;
  /** Events per second over the last minute. */
  events_per_s: number;
  /** Events over the last 10 minutes. */
  events_10m: number;
  /** Unix time (seconds) of its last event. */
  last_seen: number;
}

/** A drain's rates on one node, over the last few seconds. */
export interface DrainRates {
  out_per_s: number;
  /** By reason. */
  dropped_per_s: Record<string, number>;
}

/** A node's live picture, refreshed with its status document (at most every few seconds). */
export interface NodeLive {
  /** Events the core took in since it started, and per second over the last few seconds. */
  in: number;
  in_per_s: number;
  /** The node's clients (systail, receive, ...) and whether their processes run. */
  clients: Array<{ name: string; running: boolean }>;
  /** The node's busiest keys of the last 10 minutes. */
  keys: KeyRate[];
  /** Every other key of the last 10 minutes together (key `(other)`); absent when there is none. */
  other?: KeyRate;
  /** By drain name. */
  drains: Record<string, DrainRates>;
}

/** One row of `logyard drain status`: a drain on a node. */
export interface NodeDrainStatus extends DrainState {
  drain: string;
  node_id: string;
  /** Unix time (seconds) its node wrote it. */
  updated: number;
}

export interface NodeInfo {
  node_id: string;
  /** Unix time (seconds) the node's core started. */
  started: number;
  version: string;
}

/** Keeps a temporary drain alive. */
export interface TemporaryHandle {
  /** Stops refreshing and deletes the drain (unless someone replaced it meanwhile). Safe to call twice. */
  release(): Promise<void>;
}

/** What a store's watcher delivers: every entry, and which names changed since the last delivery. */
export interface WatchUpdate<T> {
  /**
   * Every entry by name, in no particular order: the watch's own map, which it updates just before
   * each delivery (nothing is copied or sorted per delivery). Read it; never change it.
   */
  entries: ReadonlyMap<string, T>;
  /** The names added, changed or deleted since the last delivery (every name at the first); never empty but at a first delivery of no entries. */
  changed: ReadonlySet<string>;
}

/** What watchDrains delivers: a core of 1,000 drains told of one drain added applies that one, not all 1,000 again. */
export type DrainsUpdate = WatchUpdate<DrainRecord>;

export interface StoreWatch {
  close(): Promise<void>;
}

/**
 * Where drains, formats and node status are kept. Backends (file://, etcd://) differ only in reach;
 * every method behaves the same on each. Methods throw InvalidNameError for bad names and
 * StoreUnavailableError when the store cannot be reached.
 */
export interface Store {
  /** The store's URI, with any password shown as `***`. */
  readonly description: string;

  /** Every drain, sorted by name; temporary drains whose creator stopped refreshing are left out. */
  listDrains(): Promise<DrainRecord[]>;
  getDrain(name: string): Promise<DrainRecord | undefined>;
  /** Adds or replaces a drain; `created` becomes now. Refuses `builtin.*` names. */
  putDrain(name: string, uri: string, options?: PutDrainOptions): Promise<void>;
  /** Adds a drain that vanishes about 10 s after the returned handle stops refreshing it (its process died). */
  putTemporaryDrain(name: string, uri: string): Promise<TemporaryHandle>;
  /** False when no such drain existed. Refuses `builtin.*` names. */
  deleteDrain(name: string): Promise<boolean>;
  /**
   * Calls `onChange` with every drain (as listDrains) at once, then after every change, including
   * changes by other processes and expiry of temporary drains, each time with the names that
   * changed (see DrainsUpdate). Errors while watching go to `onError` and are retried; meanwhile
   * the last set delivered stays current. `onRecovered` is called once when watching works again
   * after errors (changes missed meanwhile are delivered, each once).
   */
  watchDrains(
    onChange: (update: DrainsUpdate) => void,
    onError?: (error: StoreError) => void,
    onRecovered?: () => void,
  ): Promise<StoreWatch>;

  /** Announces this node; refreshed until close(). A node that stops refreshing vanishes with its status. */
  registerNode(info: NodeInfo): Promise<void>;
  /**
   * Replaces this node's status document, kept (like its node entry) only while the node is
   * registered and refreshed: registerNode first. Writes of one store land in the order made.
   * `encoded`, when the caller has built it already, is the document as encodeNodeStatus(status)
   * gives it (one of 1,000 drains is about 100 KB to build). A write of `countersOnly` (no drain's
   * state changed since the last write) that fails while the store is away is not made again as soon
   * as the store answers: the next write carries its counters.
   */
  putNodeStatus(status: NodeStatus, encoded?: string, write?: { countersOnly?: boolean }): Promise<void>;
  /** The status documents of live nodes, sorted by node id; read node by node, so no reply grows with the cluster. */
  listNodeStatus(): Promise<NodeStatus[]>;
  /** How many nodes are registered and live: a count, without reading their entries. */
  countNodes(): Promise<number>;

  /** Named templates, by name. */
  listFormats(): Promise<Record<string, string>>;
  putFormat(name: string, template: string): Promise<void>;
  /** False when no such format existed. */
  deleteFormat(name: string): Promise<boolean>;
  /** As watchDrains, for the named formats. */
  watchFormats(
    onChange: (formats: Record<string, string>) => void,
    onError?: (error: StoreError) => void,
    onRecovered?: () => void,
  ): Promise<StoreWatch>;

  /** Every tenant, sorted by name. */
  listTenants(): Promise<TenantRecord[]>;
  getTenant(name: string): Promise<TenantRecord | undefined>;
  /** Adds or replaces a tenant; `created` is kept as given (rotate keeps the first one). */
  putTenant(tenant: Omit<TenantRecord, 'problem'>): Promise<void>;
  /** False when no such tenant existed. Its drains are the caller's to delete. */
  deleteTenant(name: string): Promise<boolean>;
  /** As watchDrains, for the tenants. */
  watchTenants(
    onChange: (tenants: TenantRecord[]) => void,
    onError?: (error: StoreError) => void,
    onRecovered?: () => void,
  ): Promise<StoreWatch>;

  /** Waits for writes in progress, then drops this process's node entry and temporary drains. Safe to call twice. */
  close(): Promise<void>;
}
