import type { Etcd3, IKeyValue } from 'etcd3';
import { ConstantBackoff, handleAll, retry } from 'cockatiel';
import { nowUnix } from '@logyard/bus';
import { StoreError } from './errors.js';
import { assertDrainName, assertFormatName, assertNodeId, assertStoreDrainName } from './names.js';
import type { DrainRecord, DrainsUpdate, NodeInfo, NodeStatus, PutDrainOptions, Store, StoreWatch, TemporaryHandle, TenantRecord, WatchUpdate } from './types.js';
import { assertTenant, assertTenantName, encodeTenant } from './tenant-entry.js';
import { drainValue } from './drain-entry.js';
import { OpenWatches, sortedEntries } from './watches.js';
import { formatsByName } from './formats.js';
import { compare } from './json.js';
import { assertRegisteredAs, decodeNodeStatus, encodeNodeStatus } from './node-status.js';
import { parseEtcdUri, type EtcdEndpoint } from './etcd-uri.js';
import { clientOptions, etcdFailure, HOST_OPEN_MS } from './etcd-client.js';
import { NodeLease, type NodeLeaseOptions } from './etcd-lease.js';
import { PrefixWatch, type WatchRead } from './etcd-watch.js';
import { WatchStream } from './etcd-watch-stream.js';
import { EtcdConnection } from './etcd-connection.js';
import { DRAINS, drainFromKv, FORMATS, formatFromKv, listKeys, mapConcurrently, NODES, STATUS, TENANTS, tenantFromKv } from './etcd-layout.js';
import { withTimeout } from './time.js';

export { parseEtcdUri, type EtcdEndpoint } from './etcd-uri.js';
export type { WatchRead } from './etcd-watch.js';

export interface EtcdStoreOptions {
  /** TTL of the lease holding this node's entry and status. Default 10 s. */
  nodeTtlSeconds?: number;
  /** TTL of the lease holding a temporary drain (docs/store.md: 10 s). */
  temporaryTtlSeconds?: number;
  /** Longest a single request may take before it fails as unavailable. Default 3 500 ms. */
  timeoutMs?: number;
  /**
   * A connection of its own, not shared with other stores of the process: as a store in a process of
   * its own has (the cluster simulator runs hundreds of nodes in one process).
   */
  ownConnections?: boolean;
  /** This node's put budget and the spread of its lease's renewal (etcd-lease.ts). */
  lease?: Omit<NodeLeaseOptions, 'ttl' | 'pause'>;
  /** Told of every read a watch makes to start or catch up (etcd-watch.ts): the cluster simulator counts them. */
  onWatchRead?: (read: WatchRead) => void;
}

const DEFAULT_TTL_SECONDS = 10;
const DEFAULT_TIMEOUT_MS = 3_500;
/** How long close() waits for etcd to revoke a lease before leaving it to expire. */
const CLOSE_REVOKE_MS = 1_000;
/** Status documents read at once by listNodeStatus. */
const STATUS_READS_AT_ONCE = 16;
/**
 * listNodeStatus makes one request per node: one that timed out is made again (twice at most)
 * rather than failing the whole read. With 100 nodes of 1,000 drains on a busy etcd, one of the
 * hundred reads passing its deadline made every `drain status` fail. Made again once the client's
 * circuit is closed again: three reads in a row past their deadline open it, and every request
 * made while it is open fails at once (the store's one connection carries them all).
 */
const READ_AGAIN = retry(handleAll, { maxAttempts: 2, backoff: new ConstantBackoff(HOST_OPEN_MS + 100) });

/**
 * The cluster store: etcd, with the layout of docs/store.md (see etcd-layout.ts).
 *
 * The client connects lazily and reconnects by itself; each request fails within `timeoutMs` when
 * etcd cannot be reached. A node's lease is renewed while etcd is away, and when it was lost (etcd
 * away for longer than its TTL) a new one is taken and the node's two entries are written again.
 */
export class EtcdStore implements Store {
  readonly description: string;
  private readonly timeoutMs: number;
  private readonly nodeTtl: number;
  private readonly temporaryTtl: number;
  private readonly leaseOptions: NodeLeaseOptions;
  private readonly onWatchRead: ((read: WatchRead) => void) | undefined;
  private readonly inFlight = new Set<Promise<unknown>>();
  private readonly watches = new OpenWatches();
  private readonly temporaryDrains = new Set<TemporaryHandle>();
  private node: { id: string; lease: NodeLease } | undefined;
  private closing: Promise<void> | undefined;
  private readonly client: Etcd3;
  /** The one stream of every watch of this store (drains, formats, tenants). */
  private readonly watchStream: WatchStream;

  private constructor(
    private readonly connection: EtcdConnection,
    endpoint: EtcdEndpoint,
    options: EtcdStoreOptions,
  ) {
    this.client = connection.client;
    this.watchStream = new WatchStream(this.client);
    this.description = endpoint.description;
    this.timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.nodeTtl = Math.max(1, Math.round(options.nodeTtlSeconds ?? DEFAULT_TTL_SECONDS));
    this.temporaryTtl = Math.max(1, Math.round(options.temporaryTtlSeconds ?? DEFAULT_TTL_SECONDS));
    this.leaseOptions = { ...options.lease, ttl: this.nodeTtl, pause: (ms) => connection.pause(ms) };
    this.onWatchRead = options.onWatchRead;
  }

  /** Opens a store on `etcd://` or `etcds://` URI; nothing is contacted until the first operation. */
  static async open(uri: string, options: EtcdStoreOptions = {}): Promise<EtcdStore> {
    const endpoint = parseEtcdUri(uri);
    const settings = await clientOptions(endpoint, options.timeoutMs ?? DEFAULT_TIMEOUT_MS, options.ownConnections);
    return new EtcdStore(new EtcdConnection(settings), endpoint, options);
  }

  async listDrains(): Promise<DrainRecord[]> {
    return this.run('list drains', async () => {
      const response = await this.client.getAll().prefix(DRAINS).exec();
      return response.kvs.map(drainFromKv).sort((a, b) => compare(a.name, b.name));
    });
  }

  async getDrain(name: string): Promise<DrainRecord | undefined> {
    assertDrainName(name);
    return this.run(`read drain ${name}`, async () => {
      const response = await this.client.get(DRAINS + name).exec();
      return response.kvs[0] && drainFromKv(response.kvs[0]);
    });
  }

  async putDrain(name: string, uri: string, options: PutDrainOptions = {}): Promise<void> {
    assertStoreDrainName(name);
    // A put without a lease also detaches the key from a temporary drain's lease.
    return this.run(`add drain ${name}`, async () => {
      await this.client.put(DRAINS + name).value(JSON.stringify(drainValue(uri, options.token)));
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
    onChange: (update: DrainsUpdate) => void,
    onError?: (error: StoreError) => void,
    onRecovered?: () => void,
  ): Promise<StoreWatch> {
    return this.watchPrefix(DRAINS, 'drains', drainFromKv, onChange, onError, onRecovered);
  }

  async registerNode(info: NodeInfo): Promise<void> {
    assertNodeId(info.node_id);
    return this.run(`register node ${info.node_id}`, async () => {
      const previous = this.node;
      if (previous) {
        this.node = undefined;
        await previous.lease.close(this.timeoutMs);
      }
      const lease = new NodeLease(this.client, this.leaseOptions);
      try {
        await lease.put(NODES + info.node_id, JSON.stringify({ started: info.started, version: info.version }));
      } catch (err) {
        await lease.close(this.timeoutMs);
        throw err;
      }
      this.node = { id: info.node_id, lease };
    });
  }

  async putNodeStatus(status: NodeStatus, encoded?: string, write: { countersOnly?: boolean } = {}): Promise<void> {
    assertNodeId(status.node_id);
    assertRegisteredAs(this.node?.id, status.node_id, this.description);
    const lease = this.node!.lease;
    return this.run(`write the status of node ${status.node_id}`, () =>
      lease.put(STATUS + status.node_id, encoded ?? encodeNodeStatus(status), { soon: !write.countersOnly }),
    );
  }

  async listNodeStatus(): Promise<NodeStatus[]> {
    // Each request has its own deadline; the whole read grows with the number of nodes.
    return this.run(
      'read the drain status',
      async () => {
        const keys = (await READ_AGAIN.execute(() => listKeys(this.client, STATUS))).filter((key) => !key.slice(STATUS.length).includes('/'));
        const documents = await mapConcurrently(keys, STATUS_READS_AT_ONCE, async (key) => {
          const kv = (await READ_AGAIN.execute(() => this.client.get(key).exec())).kvs[0];
          // Gone meanwhile (its node stopped) or unreadable: left out.
          return kv && decodeNodeStatus(key.slice(STATUS.length), kv.value.toString());
        });
        return documents.filter((document) => document !== undefined);
      },
      null,
    );
  }

  async countNodes(): Promise<number> {
    return this.run('count the nodes', () => this.client.getAll().prefix(NODES).count());
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
    return this.watchPrefix(FORMATS, 'formats', formatFromKv, (update) => onChange(formatsByName([...update.entries.values()])), onError, onRecovered);
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

  async listTenants(): Promise<TenantRecord[]> {
    return this.run('list tenants', async () => {
      const response = await this.client.getAll().prefix(TENANTS).exec();
      return response.kvs.map(tenantFromKv).filter((t) => t !== undefined).sort((a, b) => compare(a.name, b.name));
    });
  }

  async getTenant(name: string): Promise<TenantRecord | undefined> {
    assertTenantName(name);
    return this.run(`read tenant ${name}`, async () => {
      const kv = (await this.client.get(TENANTS + name).exec()).kvs[0];
      return kv && tenantFromKv(kv);
    });
  }

  async putTenant(tenant: Omit<TenantRecord, 'problem'>): Promise<void> {
    assertTenant(tenant);
    return this.run(`write tenant ${tenant.name}`, async () => {
      await this.client.put(TENANTS + tenant.name).value(encodeTenant(tenant));
    });
  }

  async deleteTenant(name: string): Promise<boolean> {
    assertTenantName(name);
    return this.run(`delete tenant ${name}`, async () => {
      const response = await this.client.delete().key(TENANTS + name).exec();
      return Number(response.deleted) > 0;
    });
  }

  async watchTenants(
    onChange: (tenants: TenantRecord[]) => void,
    onError?: (error: StoreError) => void,
    onRecovered?: () => void,
  ): Promise<StoreWatch> {
    return this.watchPrefix(TENANTS, 'tenants', tenantFromKv, (update) => onChange(sortedEntries(update)), onError, onRecovered);
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      await this.watches.closeAll();
      await Promise.allSettled(this.inFlight);
      // Revoking the leases removes at once what would otherwise expire within the TTL. Bounded
      // by a second, so that closing while etcd is away stays quick; the leases expire anyway.
      await Promise.allSettled([...this.temporaryDrains].map((handle) => handle.release()));
      await this.node?.lease.close(CLOSE_REVOKE_MS);
      await Promise.allSettled(this.inFlight);
      this.watchStream.close();
      this.connection.close();
    })();
    return this.closing;
  }

  private async watchPrefix<T extends { name: string }>(
    prefix: string,
    what: string,
    decode: (kv: IKeyValue) => T | undefined,
    onChange: (update: WatchUpdate<T>) => void,
    onError?: (error: StoreError) => void,
    onRecovered?: () => void,
  ): Promise<StoreWatch> {
    this.assertOpen();
    const watcher = new PrefixWatch(this.watchStream, {
      description: this.description,
      prefix,
      what,
      decode,
      reads: {
        list: () => this.run(`list ${what}`, () => this.client.getAll().prefix(prefix).exec()),
        changedSince: (revision) => this.run(`list ${what}`, () => this.client.getAll().prefix(prefix).minModRevision(revision.toString()).exec()),
        keysAt: (revision) => this.run(`list ${what}`, () => this.client.getAll().prefix(prefix).revision(revision).keys()),
      },
      onRead: this.onWatchRead,
      unavailable: (action, err) => etcdFailure(this.description, this.timeoutMs, action, err),
      onChange,
      onError: onError ?? (() => undefined),
      onRecovered: onRecovered ?? (() => undefined),
      pause: (ms) => this.connection.pause(ms),
    });
    return this.watches.start(watcher);
  }

  private assertOpen(): void {
    if (this.closing) throw new StoreError(`${this.description}: the store is closed`);
  }

  /**
   * Runs an operation of the public API: bounded in time (by `timeoutMs`, or with null only by each
   * request's own deadline), its errors made one line naming the store.
   */
  private run<T>(action: string, operation: () => Promise<T>, timeoutMs: number | null = this.timeoutMs): Promise<T> {
    this.assertOpen();
    const bounded = timeoutMs === null ? operation() : withTimeout(operation(), timeoutMs);
    return this.track(
      bounded.catch((err: unknown) => {
        throw etcdFailure(this.description, this.timeoutMs, action, err);
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
}
