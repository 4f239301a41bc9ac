import { readFile } from 'node:fs/promises';
import {
  Etcd3,
  EtcdAuthenticationFailedError,
  EtcdInvalidAuthTokenError,
  EtcdPermissionDeniedError,
  EtcdRoleNotGrantedError,
  EtcdUserNotFoundError,
  isRecoverableError,
  type IKeyValue,
  type IOptions,
  type Lease,
  type Watcher,
} from 'etcd3';
import { circuitBreaker, ConsecutiveBreaker, handleWhen, retry, type IBackoff } from 'cockatiel';
import { nowUnix } from '@logyard/bus';
import { StoreError, StoreUnavailableError } from './errors.js';
import {
  assertDrainName,
  assertFormatName,
  assertNodeId,
  assertStoreDrainName,
  drainNameProblem,
  isBuiltinDrainName,
} from './names.js';
import type { DrainRecord, NodeDrainStatus, NodeInfo, Store, StoreWatch, TemporaryHandle } from './types.js';
import { OpenWatches } from './watches.js';
import { formatsByName } from './formats.js';
import { compare, parseJsonObject } from './json.js';

export interface EtcdStoreOptions {
  /** TTL of the lease holding this node's entry and status. Default 10 s. */
  nodeTtlSeconds?: number;
  /** TTL of the lease holding a temporary drain (SPEC section 3: 10 s). */
  temporaryTtlSeconds?: number;
  /** Longest a single operation may take before it fails as unavailable. Default 3 500 ms. */
  timeoutMs?: number;
}

/** Where and how to reach etcd, from an `etcd://` or `etcds://` URI. */
export interface EtcdEndpoint {
  tls: boolean;
  /** `host:port`, at least one. */
  hosts: string[];
  username?: string;
  password?: string;
  /** Files named by the `ca`, `cert` and `key` params of `etcds://`. */
  ca?: string;
  cert?: string;
  key?: string;
  /** The URI with the password shown as `***`. */
  description: string;
}

const ROOT = '/logyard/';
const DRAINS = `${ROOT}drains/`;
const FORMATS = `${ROOT}formats/`;
const STATUS = `${ROOT}status/`;
const NODES = `${ROOT}nodes/`;
const DEFAULT_TTL_SECONDS = 10;
const DEFAULT_TIMEOUT_MS = 3_500;
const DEFAULT_PORT = 2379;
/** Backoff between attempts to re-list drains or to get a new lease while etcd is away. */
const RETRY_MIN_MS = 250;
const RETRY_MAX_MS = 5_000;
/** How long close() waits for etcd to revoke a lease before leaving it to expire. */
const CLOSE_REVOKE_MS = 1_000;

/**
 * Parses `etcd://[user:password@]host[:port][,host[:port]...]` and `etcds://...?ca=&cert=&key=`.
 * Errors never repeat the URI, which may hold a password.
 */
export function parseEtcdUri(uri: string): EtcdEndpoint {
  const match = /^(etcds?):\/\/([^/?#]*)\/?(?:\?([^#]*))?$/i.exec(uri);
  if (!match) throw new StoreError('an etcd store URI looks like etcd://host:port[,host:port...] or etcds://host:port?ca=FILE');
  const tls = match[1].toLowerCase() === 'etcds';
  const scheme = tls ? 'etcds' : 'etcd';
  let authority = match[2];
  let username: string | undefined;
  let password: string | undefined;
  const at = authority.lastIndexOf('@');
  if (at >= 0) {
    const userinfo = authority.slice(0, at);
    authority = authority.slice(at + 1);
    const colon = userinfo.indexOf(':');
    try {
      username = decodeURIComponent(colon >= 0 ? userinfo.slice(0, colon) : userinfo);
      password = colon >= 0 ? decodeURIComponent(userinfo.slice(colon + 1)) : '';
    } catch {
      throw new StoreError(`${scheme} store URI: the user or password is not valid percent-encoding`);
    }
    if (!username) throw new StoreError(`${scheme} store URI: the user name before "@" is empty`);
  }
  if (!authority) throw new StoreError(`${scheme} store URI: no host given (${scheme}://host:port)`);
  const hosts = authority.split(',').map((host) => {
    const hostMatch = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9_.-]+)(?::(\d{1,5}))?$/.exec(host);
    if (!hostMatch) throw new StoreError(`${scheme} store URI: "${host}" is not host:port`);
    const port = hostMatch[2] === undefined ? DEFAULT_PORT : Number(hostMatch[2]);
    if (port < 1 || port > 65535) throw new StoreError(`${scheme} store URI: bad port in "${host}"`);
    return `${hostMatch[1]}:${port}`;
  });
  const endpoint: EtcdEndpoint = { tls, hosts, username, password, description: '' };
  const params = new URLSearchParams(match[3] ?? '');
  for (const [name, value] of params) {
    if (!tls || !['ca', 'cert', 'key'].includes(name)) {
      throw new StoreError(`${scheme} store URI: unknown param "${name}"${tls ? ' (etcds takes ca, cert and key)' : ' (ca, cert and key need etcds://)'}`);
    }
    if (!value) throw new StoreError(`${scheme} store URI: param "${name}" needs a file name`);
    endpoint[name as 'ca' | 'cert' | 'key'] = value;
  }
  if ((endpoint.cert === undefined) !== (endpoint.key === undefined)) throw new StoreError(`${scheme} store URI: cert and key go together`);
  const userinfo = username === undefined ? '' : `${encodeURIComponent(username)}:***@`;
  const query = params.size ? `?${params.toString()}` : '';
  endpoint.description = `${scheme}://${userinfo}${hosts.join(',')}${query}`;
  return endpoint;
}

/** Builds the client options: short deadlines, quick reconnects, keepalives that notice a dead peer. */
async function clientOptions(endpoint: EtcdEndpoint, timeoutMs: number): Promise<IOptions> {
  const readParam = async (param: 'ca' | 'cert' | 'key'): Promise<Buffer | undefined> => {
    const file = endpoint[param];
    if (file === undefined) return undefined;
    try {
      return await readFile(file);
    } catch (err) {
      throw new StoreError(`${endpoint.description}: cannot read the ${param} file ${file}: ${(err as Error).message}`, { cause: err });
    }
  };
  const [ca, cert, key] = await Promise.all([readParam('ca'), readParam('cert'), readParam('key')]);
  const options: IOptions = {
    hosts: endpoint.hosts.map((host) => `${endpoint.tls ? 'https' : 'http'}://${host}`),
    dialTimeout: timeoutMs,
    defaultCallOptions: (context) => (context.isStream ? {} : { deadline: Date.now() + timeoutMs }),
    grpcOptions: {
      'grpc.keepalive_time_ms': 10_000,
      'grpc.keepalive_timeout_ms': 5_000,
      'grpc.initial_reconnect_backoff_ms': 200,
      'grpc.max_reconnect_backoff_ms': 2_000,
    },
    faultHandling: {
      // A host that failed is skipped for a second, not the library's five: a returning etcd is
      // used again quickly. One retry on another host, so a down cluster fails fast.
      host: () => circuitBreaker(handleWhen(isRecoverableError), { halfOpenAfter: 1_000, breaker: new ConsecutiveBreaker(3) }),
      global: retry(handleWhen(isRecoverableError), { maxAttempts: endpoint.hosts.length > 1 ? 1 : 0 }),
      watchBackoff: doublingBackoff(RETRY_MIN_MS, 3_000),
    },
  };
  if (endpoint.username !== undefined) options.auth = { username: endpoint.username, password: endpoint.password ?? '' };
  if (endpoint.tls && (ca || cert)) {
    // Without `ca`, the system's roots verify the server.
    options.credentials = { rootCertificate: ca as Buffer, privateKey: key, certChain: cert };
  }
  return options;
}

/**
 * The cluster store: etcd, with the layout of SPEC section 3.
 *
 *     /logyard/drains/<name>              {"uri","created"}; temporary drains under their creator's lease
 *     /logyard/formats/<name>             {"template"}
 *     /logyard/nodes/<node_id>            {"started","version"}, under the node's lease
 *     /logyard/status/<drain>/<node_id>   the NodeDrainStatus, under the node's lease
 *
 * The client connects lazily and reconnects by itself; each operation fails within `timeoutMs`
 * when etcd cannot be reached. A node's lease is renewed while etcd is away, and when it was lost
 * (etcd away for longer than its TTL) a new one is taken and the node's entries are written again.
 */
export class EtcdStore implements Store {
  readonly description: string;
  private readonly timeoutMs: number;
  private readonly nodeTtl: number;
  private readonly temporaryTtl: number;
  private readonly inFlight = new Set<Promise<unknown>>();
  private readonly watches = new OpenWatches();
  private readonly temporaryDrains = new Set<TemporaryHandle>();
  private nodeLease: NodeLease | undefined;
  private closing: Promise<void> | undefined;
  /**
   * Each watch gets a client of its own: etcd3's watch manager, shared by the watchers of one
   * client, throws (uncaught, ending the process) "Failed to find watcher for IWatchResponse" when
   * one of two watchers is cancelled after a compaction while the other's responses arrive.
   */
  private readonly watchClients = new Set<Etcd3>();

  private constructor(
    private readonly client: Etcd3,
    endpoint: EtcdEndpoint,
    options: EtcdStoreOptions,
    private readonly newClient: () => Etcd3,
  ) {
    this.description = endpoint.description;
    this.timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.nodeTtl = Math.max(1, Math.round(options.nodeTtlSeconds ?? DEFAULT_TTL_SECONDS));
    this.temporaryTtl = Math.max(1, Math.round(options.temporaryTtlSeconds ?? DEFAULT_TTL_SECONDS));
  }

  /** Opens a store on `etcd://` or `etcds://` URI; nothing is contacted until the first operation. */
  static async open(uri: string, options: EtcdStoreOptions = {}): Promise<EtcdStore> {
    const endpoint = parseEtcdUri(uri);
    const settings = await clientOptions(endpoint, options.timeoutMs ?? DEFAULT_TIMEOUT_MS);
    return new EtcdStore(new Etcd3(settings), endpoint, options, () => new Etcd3(settings));
  }

  async listDrains(): Promise<DrainRecord[]> {
    return this.run('list drains', async () => {
      const response = await this.client.getAll().prefix(DRAINS).exec();
      return sortDrains(response.kvs.map(drainFromKv).filter((drain) => drain !== undefined));
    });
  }

  async getDrain(name: string): Promise<DrainRecord | undefined> {
    assertDrainName(name);
    return this.run(`read drain ${name}`, async () => {
      const response = await this.client.get(DRAINS + name).exec();
      return response.kvs[0] && drainFromKv(response.kvs[0]);
    });
  }

  async putDrain(name: string, uri: string): Promise<void> {
    assertStoreDrainName(name);
    // A put without a lease also detaches the key from a temporary drain's lease.
    return this.run(`add drain ${name}`, async () => {
      await this.client.put(DRAINS + name).value(JSON.stringify({ uri, created: nowUnix() }));
    });
  }

  async putTemporaryDrain(name: string, uri: string): Promise<TemporaryHandle> {
    assertStoreDrainName(name);
    const lease = this.client.lease(this.temporaryTtl);
    // Keepalive failures are retried by the lease itself; losing it is losing the drain, as when
    // this process dies.
    lease.on('lost', () => undefined);
    await this.run(`add drain ${name}`, async () => {
      try {
        await lease.put(DRAINS + name).value(JSON.stringify({ uri, created: nowUnix() }));
      } catch (err) {
        lease.release();
        throw err;
      }
    });
    let released: Promise<void> | undefined;
    const handle: TemporaryHandle = {
      release: () => {
        // Revoking deletes the key only if it is still under this lease: a drain someone replaced
        // meanwhile stays.
        released ??= this.track(
          (async () => {
            this.temporaryDrains.delete(handle);
            await withTimeout(lease.revoke(), this.closing ? CLOSE_REVOKE_MS : this.timeoutMs).catch(() => lease.release());
          })(),
        );
        return released;
      },
    };
    this.temporaryDrains.add(handle);
    return handle;
  }

  async deleteDrain(name: string): Promise<boolean> {
    assertStoreDrainName(name);
    return this.run(`delete drain ${name}`, async () => {
      const response = await this.client.delete().key(DRAINS + name).exec();
      return Number(response.deleted) > 0;
    });
  }

  async watchDrains(
    onChange: (drains: DrainRecord[]) => void,
    onError?: (error: StoreError) => void,
    onRecovered?: () => void,
  ): Promise<StoreWatch> {
    return this.watchPrefix(DRAINS, 'drains', drainFromKv, onChange, onError, onRecovered);
  }

  async registerNode(info: NodeInfo): Promise<void> {
    assertNodeId(info.node_id);
    return this.run(`register node ${info.node_id}`, async () => {
      const previous = this.nodeLease;
      if (previous) {
        this.nodeLease = undefined;
        await previous.close(this.timeoutMs);
      }
      const lease = new NodeLease(this.client, this.nodeTtl);
      try {
        await lease.put(NODES + info.node_id, JSON.stringify({ started: info.started, version: info.version }));
      } catch (err) {
        await lease.close(this.timeoutMs);
        throw err;
      }
      this.nodeLease = lease;
    });
  }

  async putStatus(status: NodeDrainStatus): Promise<void> {
    assertDrainName(status.drain);
    assertNodeId(status.node_id);
    const key = `${STATUS}${status.drain}/${status.node_id}`;
    return this.run(`write the status of drain ${status.drain}`, async () => {
      if (this.nodeLease) await this.nodeLease.put(key, JSON.stringify(status));
      else await this.client.put(key).value(JSON.stringify(status));
    });
  }

  async deleteStatus(drain: string, nodeId: string): Promise<void> {
    assertDrainName(drain);
    assertNodeId(nodeId);
    const key = `${STATUS}${drain}/${nodeId}`;
    // Forgotten first, so that a new lease does not bring it back.
    this.nodeLease?.forget(key);
    return this.run(`delete the status of drain ${drain}`, async () => {
      await this.client.delete().key(key).exec();
    });
  }

  async listStatus(): Promise<NodeDrainStatus[]> {
    return this.run('list status', async () => {
      const [nodes, statuses] = await Promise.all([
        this.client.getAll().prefix(NODES).keys(),
        this.client.getAll().prefix(STATUS).exec(),
      ]);
      const live = new Set(nodes.map((key) => key.slice(NODES.length)));
      const result: NodeDrainStatus[] = [];
      for (const kv of statuses.kvs) {
        const [drain, nodeId, ...rest] = kv.key.toString().slice(STATUS.length).split('/');
        if (rest.length || !nodeId || !live.has(nodeId)) continue;
        const value = parseJsonObject(kv.value.toString());
        // A status that cannot be read is skipped: its node rewrites it at its next change.
        if (value) result.push({ ...(value as unknown as NodeDrainStatus), drain, node_id: nodeId });
      }
      return result.sort((a, b) => compare(a.drain, b.drain) || compare(a.node_id, b.node_id));
    });
  }

  async listFormats(): Promise<Record<string, string>> {
    return this.run('list formats', async () => {
      const response = await this.client.getAll().prefix(FORMATS).exec();
      return formatsByName(response.kvs.map(formatFromKv).filter((format) => format !== undefined));
    });
  }

  async watchFormats(
    onChange: (formats: Record<string, string>) => void,
    onError?: (error: StoreError) => void,
    onRecovered?: () => void,
  ): Promise<StoreWatch> {
    return this.watchPrefix(FORMATS, 'formats', formatFromKv, (formats) => onChange(formatsByName(formats)), onError, onRecovered);
  }

  async deleteFormat(name: string): Promise<boolean> {
    assertFormatName(name);
    return this.run(`delete format ${name}`, async () => {
      const response = await this.client.delete().key(FORMATS + name).exec();
      return Number(response.deleted) > 0;
    });
  }

  async putFormat(name: string, template: string): Promise<void> {
    assertFormatName(name);
    return this.run(`write format ${name}`, async () => {
      await this.client.put(FORMATS + name).value(JSON.stringify({ template }));
    });
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      await this.watches.closeAll();
      await Promise.allSettled(this.inFlight);
      // Revoking the leases removes at once what would otherwise expire within the TTL. Bounded
      // by a second, so that closing while etcd is away stays quick; the leases expire anyway.
      await Promise.allSettled([...this.temporaryDrains].map((handle) => handle.release()));
      await this.nodeLease?.close(CLOSE_REVOKE_MS);
      await Promise.allSettled(this.inFlight);
      this.client.close();
      for (const client of this.watchClients) client.close();
    })();
    return this.closing;
  }

  private async watchPrefix<T extends { name: string }>(
    prefix: string,
    what: string,
    decode: (kv: IKeyValue) => T | undefined,
    onChange: (entries: T[]) => void,
    onError?: (error: StoreError) => void,
    onRecovered?: () => void,
  ): Promise<StoreWatch> {
    this.assertOpen();
    const client = this.newClient();
    this.watchClients.add(client);
    const forget = (): void => {
      this.watchClients.delete(client);
      client.close();
    };
    const watcher = new PrefixWatch(client, {
      description: this.description,
      prefix,
      what,
      decode,
      list: () => this.run(`list ${what}`, () => this.client.getAll().prefix(prefix).exec()),
      unavailable: (action, err) => this.failure(action, err),
      onChange,
      onError: onError ?? (() => undefined),
      onRecovered: onRecovered ?? (() => undefined),
    });
    const watch = await this.watches.start(watcher).catch((err: unknown) => {
      forget();
      throw err;
    });
    return {
      close: async () => {
        await watch.close();
        forget();
      },
    };
  }

  private assertOpen(): void {
    if (this.closing) throw new StoreError(`${this.description}: the store is closed`);
  }

  /** Runs an operation of the public API: bounded in time, its errors made one line naming the store. */
  private run<T>(action: string, operation: () => Promise<T>): Promise<T> {
    this.assertOpen();
    return this.track(
      withTimeout(operation(), this.timeoutMs).catch((err: unknown) => {
        throw this.failure(action, err);
      }),
    );
  }

  private track<T>(promise: Promise<T>): Promise<T> {
    this.inFlight.add(promise);
    const forget = (): void => {
      this.inFlight.delete(promise);
    };
    promise.then(forget, forget);
    return promise;
  }

  private failure(action: string, err: unknown): StoreError {
    if (err instanceof StoreError) return err;
    if (err instanceof EtcdAuthenticationFailedError || err instanceof EtcdUserNotFoundError || err instanceof EtcdInvalidAuthTokenError) {
      return new StoreError(`${this.description}: authentication failed (wrong user or password)`, { cause: err });
    }
    if (err instanceof EtcdPermissionDeniedError || err instanceof EtcdRoleNotGrantedError) {
      return new StoreError(`${this.description}: permission denied to ${action}`, { cause: err });
    }
    const message = err instanceof TimeoutError ? `no answer within ${this.timeoutMs} ms` : oneLine((err as Error)?.message ?? String(err));
    return new StoreUnavailableError(`${this.description}: cannot ${action}: ${message}`, { cause: err });
  }
}

/**
 * This node's lease and the entries kept under it. While etcd is away the lease keeps trying to
 * renew itself; once it is lost a new one is taken, with backoff, and every entry written again.
 */
class NodeLease {
  private lease: Lease;
  private readonly entries = new Map<string, string>();
  private renewing: Promise<void> | undefined;
  private closed = false;

  constructor(
    private readonly client: Etcd3,
    private readonly ttl: number,
  ) {
    this.lease = this.newLease();
  }

  /** Writes `key` under the lease, and again under every later lease until forgotten. */
  async put(key: string, value: string): Promise<void> {
    this.entries.set(key, value);
    await this.lease.put(key).value(value);
  }

  forget(key: string): void {
    this.entries.delete(key);
  }

  async close(timeoutMs: number): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await withTimeout(this.lease.revoke(), timeoutMs).catch(() => this.lease.release());
  }

  private newLease(): Lease {
    const lease = this.client.lease(this.ttl);
    lease.on('lost', () => {
      if (this.lease === lease && !this.closed) this.renewing ??= this.renew().finally(() => (this.renewing = undefined));
    });
    return lease;
  }

  private async renew(): Promise<void> {
    let delay = RETRY_MIN_MS;
    while (!this.closed) {
      const lease = this.newLease();
      this.lease = lease;
      try {
        await lease.grant();
        for (const [key, value] of this.entries) await lease.put(key).value(value);
        if (this.closed) await lease.revoke().catch(() => undefined);
        return;
      } catch {
        lease.release();
        await sleep(delay);
        delay = Math.min(delay * 2, RETRY_MAX_MS);
      }
    }
  }
}

interface PrefixWatchOptions<T extends { name: string }> {
  description: string;
  /** Keys watched: everything under it. */
  prefix: string;
  /** What is watched, for messages: `drains`, `formats`. */
  what: string;
  /** The entry a key and value stand for; undefined leaves the key out. */
  decode: (kv: IKeyValue) => T | undefined;
  list: () => Promise<{ header: { revision: string }; kvs: IKeyValue[] }>;
  unavailable: (action: string, err: unknown) => StoreError;
  onChange: (entries: T[]) => void;
  onError: (error: StoreError) => void;
  onRecovered: () => void;
}

/**
 * Lists the entries under a prefix, then watches them from the next revision. The etcd client
 * resumes a broken watch from the last revision seen; when etcd no longer has that revision
 * (compacted), the watch is cancelled and this lists again and watches from there. Never gives
 * up until closed. Entries are delivered sorted by name, and only when they changed.
 */
class PrefixWatch<T extends { name: string }> {
  private readonly entries = new Map<string, T>();
  private watcher: Watcher | undefined;
  private lastRevision = 0n;
  private delivered: string | undefined;
  private failing = false;
  private restarting: Promise<void> | undefined;
  private closed = false;

  constructor(
    private readonly client: Etcd3,
    private readonly options: PrefixWatchOptions<T>,
  ) {}

  async start(): Promise<void> {
    await this.relist();
    this.watchFrom(this.lastRevision + 1n);
  }

  async close(): Promise<void> {
    this.closed = true;
    const watcher = this.watcher;
    this.watcher = undefined;
    // A restart in progress sees `closed` and stops by itself; it is not waited for, since it may be
    // sleeping between attempts while etcd is away.
    if (watcher) await withTimeout(watcher.cancel(), 1_000).catch(() => undefined);
  }

  private async relist(): Promise<void> {
    const response = await this.options.list();
    this.entries.clear();
    for (const kv of response.kvs) {
      const entry = this.options.decode(kv);
      if (entry) this.entries.set(entry.name, entry);
    }
    this.lastRevision = BigInt(response.header.revision);
    this.deliver();
  }

  private watchFrom(revision: bigint): void {
    const { prefix, what } = this.options;
    const watcher = this.client.watch().prefix(prefix).startRevision(revision.toString()).watcher();
    this.watcher = watcher;
    watcher.on('data', (response) => {
      if (this.watcher !== watcher || this.closed) return;
      for (const event of response.events) {
        const name = event.kv.key.toString().slice(prefix.length);
        if (event.type === 'Delete') this.entries.delete(name);
        else {
          const entry = this.options.decode(event.kv);
          if (entry) this.entries.set(entry.name, entry);
          else this.entries.delete(name);
        }
      }
      const revision = BigInt(response.header.revision);
      if (revision > this.lastRevision) this.lastRevision = revision;
      this.recovered();
      this.deliver();
    });
    watcher.on('connected', () => {
      if (this.watcher === watcher) this.recovered();
    });
    watcher.on('disconnected', (err: Error) => {
      if (this.watcher !== watcher || this.closed) return;
      // Resume exactly after the last revision applied here (the client would use the newest
      // header it saw, which can be ahead of the events it delivered).
      (watcher as unknown as { request: { start_revision: string } }).request.start_revision = (this.lastRevision + 1n).toString();
      this.failed(this.options.unavailable(`watch ${what}`, err));
    });
    watcher.on('error', (err: Error) => {
      // Cancelled by etcd, typically because the revision was compacted: list again.
      if (this.watcher !== watcher || this.closed) return;
      this.watcher = undefined;
      void watcher.cancel().catch(() => undefined);
      const reason = err.message.replace(/^.*Watcher canceled:\s*/, '').trim();
      this.failed(new StoreError(`${this.options.description}: etcd cancelled the ${what.replace(/s$/, '')} watch (${reason || 'its revision was compacted'}); listing the ${what} again`));
      this.restarting ??= this.restart().finally(() => (this.restarting = undefined));
    });
  }

  /** Lists again and watches from there, retrying with backoff until it works or the watch is closed. */
  private async restart(): Promise<void> {
    let delay = RETRY_MIN_MS;
    while (!this.closed) {
      try {
        await this.relist();
        if (this.closed) return;
        this.watchFrom(this.lastRevision + 1n);
        this.recovered();
        return;
      } catch (err) {
        this.failed(err instanceof StoreError ? err : this.options.unavailable(`list ${this.options.what}`, err));
        await sleep(delay);
        delay = Math.min(delay * 2, RETRY_MAX_MS);
      }
    }
  }

  private failed(error: StoreError): void {
    this.failing = true;
    this.options.onError(error);
  }

  private recovered(): void {
    if (!this.failing) return;
    this.failing = false;
    this.options.onRecovered();
  }

  private deliver(): void {
    if (this.closed) return;
    const entries = [...this.entries.values()].sort((a, b) => compare(a.name, b.name));
    const signature = JSON.stringify(entries);
    if (signature === this.delivered) return;
    this.delivered = signature;
    this.options.onChange(entries);
  }
}

/** A named format from its key and value; one without a string `template` is no format. */
function formatFromKv(kv: IKeyValue): { name: string; template: string } | undefined {
  const name = kv.key.toString().slice(FORMATS.length);
  if (name.includes('/')) return undefined;
  const template = parseJsonObject(kv.value.toString())?.template;
  return typeof template === 'string' ? { name, template } : undefined;
}

/**
 * A drain from its key and value. One that cannot be used is returned with a `problem` and no URI,
 * so that one bad entry written by another tool neither hides nor breaks the rest. Keys below a
 * drain's key (`/logyard/drains/a/b`) are not drains and are left out.
 */
function drainFromKv(kv: IKeyValue): DrainRecord | undefined {
  const key = kv.key.toString();
  const name = key.slice(DRAINS.length);
  if (name.includes('/')) return undefined;
  const temporary = kv.lease !== undefined && kv.lease !== '0' ? { temporary: true as const } : {};
  const unusable = (problem: string): DrainRecord => ({ name, uri: '', created: 0, ...temporary, problem: `${key}: ${problem}` });
  const nameProblem = drainNameProblem(name);
  if (nameProblem) return unusable(nameProblem);
  if (isBuiltinDrainName(name)) return unusable('builtin.* drains are defined by the config file, not the store');
  const data = parseJsonValue(kv.value.toString());
  if (data === undefined) return unusable('not valid JSON');
  if (typeof data !== 'object' || data === null || Array.isArray(data)) return unusable('not a JSON object');
  const { uri, created } = data as Record<string, unknown>;
  if (typeof uri !== 'string' || uri === '') return unusable('"uri" must be a non-empty string');
  if (typeof created !== 'number') return unusable('"created" must be a number');
  return { name, uri, created, ...temporary };
}

function sortDrains(drains: DrainRecord[]): DrainRecord[] {
  return drains.sort((a, b) => compare(a.name, b.name));
}

function parseJsonValue(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

function oneLine(text: string): string {
  return text.replace(/\s+/g, ' ').trim();
}

/** Waits for reconnecting the watch stream: `fromMs`, doubling up to `maxMs`, with ±20 % jitter. */
function doublingBackoff(fromMs: number, maxMs: number): IBackoff<unknown> {
  const jitter = (ms: number): number => Math.round(ms * (0.8 + Math.random() * 0.4));
  const at = (ms: number): IBackoff<unknown> => ({ duration: jitter(ms), next: () => at(Math.min(ms * 2, maxMs)) });
  return at(fromMs);
}

class TimeoutError extends Error {}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new TimeoutError(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}
