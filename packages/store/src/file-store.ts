import { randomBytes } from 'node:crypto';
import { mkdir, open, readFile, readdir, rename, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { nowUnix } from '@logyard/bus';
import { StoreError, StoreUnavailableError } from './errors.js';
import { assertDrainName, assertFormatName, assertNodeId, assertStoreDrainName } from './names.js';
import type { DrainRecord, DrainsUpdate, NodeInfo, NodeStatus, PutDrainOptions, Store, StoreWatch, TemporaryHandle, TenantRecord, WatchUpdate } from './types.js';
import { assertTenant, assertTenantName, encodeTenant, readTenantEntry } from './tenant-entry.js';
import { OpenWatches, sortedEntries } from './watches.js';
import { formatsByName } from './formats.js';
import { compare, parseJsonObject } from './json.js';
import { drainValue, readDrainEntry } from './drain-entry.js';
import { assertRegisteredAs, decodeNodeStatus, encodeNodeStatus } from './node-status.js';
import { DirectoryWatch, type Listed } from './file-watch.js';
import { Refresher } from './refresher.js';

export interface FileStoreOptions {
  /** How long a temporary drain or a node entry outlives its last refresh. Default 10 000 ms. */
  ttlMs?: number;
  /** How often their owner refreshes them. Default 3 000 ms, so two refreshes can fail before one expires. */
  refreshMs?: number;
}

const DEFAULT_TTL_MS = 10_000;
const DEFAULT_REFRESH_MS = 3_000;
const DIR_MODE = 0o700;
const FILE_MODE = 0o600;

/** A drain as read from drains/<name>.json; `expires` (unix seconds) only for temporary drains. */
interface StoredDrain {
  record: DrainRecord;
  expires?: number;
}

/**
 * The embedded store: a directory on one machine, shared by every process that opens it.
 *
 *     drains/<name>.json               {"uri","created"}, plus "expires" for temporary drains
 *     formats/<name>.json              {"template"}
 *     tenants/<name>.json              {"prefixes","token_sha256","created"}
 *     nodes/<node_id>.json             {"started","version","expires"}
 *     status/<node_id>.json            {"updated","drains":{...}}: the node's status document, as in etcd
 *
 * Files are replaced atomically (temporary file, then rename), so readers never see half a write.
 * What etcd does with leases is done here with "expires" times that their owner keeps pushing
 * forward: readers ignore entries past their time, and delete those that are clearly abandoned. A
 * node's status counts while its node entry does.
 * Directories are created on first write, with mode 0700.
 */
export class FileStore implements Store {
  readonly description: string;
  private readonly ttlSeconds: number;
  private readonly refreshMs: number;
  private readonly inFlight = new Set<Promise<unknown>>();
  private readonly watches = new OpenWatches();
  private readonly temporaryDrains = new Set<TemporaryHandle>();
  private registration: { nodeId: string; refresher: Refresher } | undefined;
  private statusWrites: Promise<unknown> = Promise.resolve();
  private closing: Promise<void> | undefined;

  constructor(
    readonly dir: string,
    options: FileStoreOptions = {},
  ) {
    this.description = `file://${dir}`;
    this.ttlSeconds = (options.ttlMs ?? DEFAULT_TTL_MS) / 1000;
    this.refreshMs = options.refreshMs ?? DEFAULT_REFRESH_MS;
  }

  async listDrains(): Promise<DrainRecord[]> {
    return this.run(async () => (await this.readDrains()).map((drain) => drain.record));
  }

  async getDrain(name: string): Promise<DrainRecord | undefined> {
    assertDrainName(name);
    return this.run(async () => (await this.readDrain(name))?.record);
  }

  async putDrain(name: string, uri: string, options: PutDrainOptions = {}): Promise<void> {
    assertStoreDrainName(name);
    return this.run(() => this.writeJson(drainPath(name), drainValue(uri, options.token)));
  }

  async putTemporaryDrain(name: string, uri: string): Promise<TemporaryHandle> {
    assertStoreDrainName(name);
    const created = nowUnix();
    const write = (): Promise<void> => this.writeJson(drainPath(name), { uri, created, expires: this.expiresFromNow() });
    await this.run(write);
    const refresher = new Refresher(this.refreshMs, async () => {
      // A drain deleted or replaced by someone else stays that way, as a key deleted under an etcd
      // lease does. A failed refresh is retried at the next tick; if they keep failing the drain
      // expires, exactly as if this process had died.
      const current = await this.readDrain(name).catch(() => undefined);
      if (current?.record.created !== created) return false;
      await write().catch(() => undefined);
      return true;
    });
    let released: Promise<void> | undefined;
    const handle: TemporaryHandle = {
      release: () => {
        released ??= this.track(
          (async () => {
            await refresher.stop();
            this.temporaryDrains.delete(handle);
            const current = await this.readDrain(name);
            if (current?.record.created === created) await this.removeFile(drainPath(name));
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
    return this.run(async () => {
      const existing = await this.readDrain(name);
      // Removed even when expired: nobody refreshes it any more.
      await this.removeFile(drainPath(name));
      return existing !== undefined;
    });
  }

  async watchDrains(
    onChange: (update: DrainsUpdate) => void,
    onError?: (error: StoreError) => void,
    onRecovered?: () => void,
  ): Promise<StoreWatch> {
    const read = async (): Promise<Listed<DrainRecord>[]> =>
      (await this.readDrains()).map((drain) => ({ entry: drain.record, expires: drain.expires }));
    return this.watchDirectory('drains', read, onChange, onError, onRecovered);
  }

  async registerNode(info: NodeInfo): Promise<void> {
    assertNodeId(info.node_id);
    return this.run(async () => {
      const previous = this.registration;
      this.registration = undefined;
      if (previous) {
        await previous.refresher.stop();
        if (previous.nodeId !== info.node_id) await this.removeNode(previous.nodeId);
      }
      const write = (): Promise<void> =>
        this.writeJson(nodePath(info.node_id), { started: info.started, version: info.version, expires: this.expiresFromNow() });
      await write();
      // A failed refresh is retried at the next tick; only a run of failures lets the entry expire.
      const refresh = async (): Promise<boolean> => {
        await write().catch(() => undefined);
        return true;
      };
      this.registration = { nodeId: info.node_id, refresher: new Refresher(this.refreshMs, refresh) };
    });
  }

  async putNodeStatus(status: NodeStatus, encoded?: string): Promise<void> {
    assertNodeId(status.node_id);
    assertRegisteredAs(this.registration?.nodeId, status.node_id, this.description);
    return this.run(() => {
      // One write at a time, so that an older document never replaces a newer one.
      const write = this.statusWrites.then(() => this.writeText(statusPath(status.node_id), encoded ?? encodeNodeStatus(status)));
      this.statusWrites = write.catch(() => undefined);
      return write;
    });
  }

  async listNodeStatus(): Promise<NodeStatus[]> {
    return this.run(async () => {
      const statuses: NodeStatus[] = [];
      for (const nodeId of [...(await this.readLiveNodes())].sort(compare)) {
        const status = decodeNodeStatus(nodeId, await this.readText(statusPath(nodeId)));
        if (status) statuses.push(status);
      }
      return statuses;
    });
  }

  async countNodes(): Promise<number> {
    return this.run(async () => (await this.readLiveNodes()).size);
  }

  async listFormats(): Promise<Record<string, string>> {
    return this.run(async () => formatsByName(await this.readFormats()));
  }

  async putFormat(name: string, template: string): Promise<void> {
    assertFormatName(name);
    return this.run(() => this.writeJson(formatPath(name), { template }));
  }

  async deleteFormat(name: string): Promise<boolean> {
    assertFormatName(name);
    return this.run(async () => {
      const existed = (await this.readText(formatPath(name))) !== undefined;
      await this.removeFile(formatPath(name));
      return existed;
    });
  }

  async watchFormats(
    onChange: (formats: Record<string, string>) => void,
    onError?: (error: StoreError) => void,
    onRecovered?: () => void,
  ): Promise<StoreWatch> {
    const read = async (): Promise<Listed<{ name: string; template: string }>[]> =>
      (await this.readFormats()).map((format) => ({ entry: format }));
    return this.watchDirectory('formats', read, (update) => onChange(formatsByName([...update.entries.values()])), onError, onRecovered);
  }

  async listTenants(): Promise<TenantRecord[]> {
    return this.run(() => this.readTenants());
  }

  async getTenant(name: string): Promise<TenantRecord | undefined> {
    assertTenantName(name);
    return this.run(async () => {
      const text = await this.readText(tenantPath(name));
      return text === undefined ? undefined : readTenantEntry(name, tenantPath(name), text);
    });
  }

  async putTenant(tenant: Omit<TenantRecord, 'problem'>): Promise<void> {
    assertTenant(tenant);
    return this.run(() => this.writeText(tenantPath(tenant.name), encodeTenant(tenant)));
  }

  async deleteTenant(name: string): Promise<boolean> {
    assertTenantName(name);
    return this.run(async () => {
      const existed = (await this.readText(tenantPath(name))) !== undefined;
      await this.removeFile(tenantPath(name));
      return existed;
    });
  }

  async watchTenants(
    onChange: (tenants: TenantRecord[]) => void,
    onError?: (error: StoreError) => void,
    onRecovered?: () => void,
  ): Promise<StoreWatch> {
    const read = async (): Promise<Listed<TenantRecord>[]> => (await this.readTenants()).map((tenant) => ({ entry: tenant }));
    return this.watchDirectory('tenants', read, (update) => onChange(sortedEntries(update)), onError, onRecovered);
  }

  /** Tenants in name order; a file another tool wrote badly is one with its problem. */
  private async readTenants(): Promise<TenantRecord[]> {
    const tenants: TenantRecord[] = [];
    for (const name of (await this.listJsonFiles('tenants')).sort(compare)) {
      const text = await this.readText(tenantPath(name));
      if (text !== undefined) tenants.push(readTenantEntry(name, tenantPath(name), text));
    }
    return tenants;
  }

  private watchDirectory<T extends { name: string }>(
    name: string,
    read: () => Promise<Listed<T>[]>,
    onChange: (update: WatchUpdate<T>) => void,
    onError?: (error: StoreError) => void,
    onRecovered?: () => void,
  ): Promise<StoreWatch> {
    this.assertOpen();
    return this.watches.start(
      new DirectoryWatch({
        name,
        directory: join(this.dir, name),
        read,
        unavailable: (action, err) => this.unavailable(action, err),
        onChange,
        onError: onError ?? (() => undefined),
        onRecovered: onRecovered ?? (() => undefined),
      }),
    );
  }

  /** Formats in name order; a file without a usable template is no format (a drain naming it reports an unknown format). */
  private async readFormats(): Promise<Array<{ name: string; template: string }>> {
    const formats: Array<{ name: string; template: string }> = [];
    for (const name of (await this.listJsonFiles('formats')).sort(compare)) {
      const template = parseJsonObject(await this.readText(formatPath(name)))?.template;
      if (typeof template === 'string') formats.push({ name, template });
    }
    return formats;
  }

  close(): Promise<void> {
    this.closing ??= this.shutDown();
    return this.closing;
  }

  private async shutDown(): Promise<void> {
    await this.watches.closeAll();
    // First the operations in progress, since one of them may be creating a temporary drain or
    // registering this node.
    await Promise.allSettled(this.inFlight);
    // Like revoking an etcd lease: what lives only while this process refreshes it goes now. A
    // failure here is not reported: those entries expire on their own within the TTL.
    await Promise.allSettled([...this.temporaryDrains].map((handle) => handle.release()));
    const registration = this.registration;
    if (registration) {
      await registration.refresher.stop();
      await this.removeNode(registration.nodeId).catch(() => undefined);
    }
    // Tidying started by reads.
    await Promise.allSettled(this.inFlight);
  }

  private assertOpen(): void {
    if (this.closing) throw new StoreError(`${this.description}: the store is closed`);
  }

  /** Runs an operation of the public API, so that close() waits for it. */
  private run<T>(operation: () => Promise<T>): Promise<T> {
    this.assertOpen();
    return this.track(operation());
  }

  private track<T>(promise: Promise<T>): Promise<T> {
    this.inFlight.add(promise);
    const forget = (): void => {
      this.inFlight.delete(promise);
    };
    promise.then(forget, forget);
    return promise;
  }

  private expiresFromNow(): number {
    return nowUnix() + this.ttlSeconds;
  }

  /**
   * Deletes an entry past its expiry time once it is past it by a whole TTL more, so that its owner
   * is surely gone rather than late with a refresh that this could race with.
   */
  private removeIfAbandoned(expires: number, remove: () => Promise<void>): void {
    if (expires + this.ttlSeconds >= nowUnix()) return;
    // Only tidying: whoever reads next tries again.
    this.track(remove()).catch(() => undefined);
  }

  private async readDrains(): Promise<StoredDrain[]> {
    const names = await this.listJsonFiles('drains');
    const drains = await Promise.all(names.map((name) => this.readDrain(name)));
    return drains.filter((drain) => drain !== undefined).sort((a, b) => compare(a.record.name, b.record.name));
  }

  /** The drain in drains/<name>.json, or undefined when there is none or it expired. */
  private async readDrain(name: string): Promise<StoredDrain | undefined> {
    const path = drainPath(name);
    const text = await this.readText(path);
    if (text === undefined) return undefined;
    const drain = storedDrain(name, path, text);
    if (drain.expires === undefined || drain.expires > nowUnix()) return drain;
    this.removeIfAbandoned(drain.expires, () => this.removeFile(path));
    return undefined;
  }

  /** Ids of the nodes whose entry is present and not expired. */
  private async readLiveNodes(): Promise<Set<string>> {
    const live = new Set<string>();
    for (const nodeId of await this.listJsonFiles('nodes')) {
      const expires = parseJsonObject(await this.readText(nodePath(nodeId)))?.expires;
      if (typeof expires !== 'number') continue;
      if (expires > nowUnix()) live.add(nodeId);
      else this.removeIfAbandoned(expires, () => this.removeNode(nodeId));
    }
    return live;
  }

  /** Deletes a node's entry and its status, the status first so none is left without its node. */
  private async removeNode(nodeId: string): Promise<void> {
    await this.removeFile(statusPath(nodeId));
    await this.removeFile(nodePath(nodeId));
  }

  /** Names of the `*.json` files in a directory of the store, without `.json`; none if it is missing. */
  private async listJsonFiles(directory: string): Promise<string[]> {
    const entries = await this.readDirectory(directory);
    return entries.filter((entry) => entry.isFile() && entry.name.endsWith('.json')).map((entry) => entry.name.slice(0, -'.json'.length));
  }

  private async readDirectory(directory: string) {
    try {
      return await readdir(join(this.dir, directory), { withFileTypes: true });
    } catch (err) {
      if (errorCode(err) === 'ENOENT') return [];
      throw this.unavailable(`list ${directory}/`, err);
    }
  }

  /** The file's content, or undefined when it does not exist. */
  private async readText(path: string): Promise<string | undefined> {
    try {
      return await readFile(join(this.dir, path), 'utf8');
    } catch (err) {
      if (errorCode(err) === 'ENOENT') return undefined;
      throw this.unavailable(`read ${path}`, err);
    }
  }

  /** Replaces the file atomically, so that no reader ever sees part of it. */
  private writeJson(path: string, value: object): Promise<void> {
    return this.writeText(path, JSON.stringify(value));
  }

  private async writeText(path: string, text: string): Promise<void> {
    const target = join(this.dir, path);
    const temporary = `${target}.${process.pid}-${randomBytes(4).toString('hex')}.tmp`;
    try {
      await writeNewFile(temporary, `${text}\n`);
      await rename(temporary, target);
    } catch (err) {
      // The write's own error is the one worth reporting.
      await rm(temporary, { force: true }).catch(() => undefined);
      throw this.unavailable(`write ${path}`, err);
    }
  }

  private async removeFile(path: string): Promise<void> {
    try {
      await rm(join(this.dir, path), { force: true });
    } catch (err) {
      throw this.unavailable(`remove ${path}`, err);
    }
  }

  private unavailable(action: string, err: unknown): StoreUnavailableError {
    return new StoreUnavailableError(`${this.description}: cannot ${action}: ${(err as Error).message}`, { cause: err });
  }
}

const drainPath = (name: string): string => join('drains', `${name}.json`);
const formatPath = (name: string): string => join('formats', `${name}.json`);
const tenantPath = (name: string): string => join('tenants', `${name}.json`);
const nodePath = (nodeId: string): string => join('nodes', `${nodeId}.json`);
const statusPath = (nodeId: string): string => join('status', `${nodeId}.json`);

function errorCode(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException | undefined)?.code;
}

/** A drain file (see readDrainEntry), with the expiry time of a temporary drain. */
function storedDrain(name: string, path: string, text: string): StoredDrain {
  const { record, fields } = readDrainEntry(name, path, text);
  const expires = fields?.expires;
  if (expires === undefined || record.problem) return { record };
  if (typeof expires !== 'number') return { record: { ...record, problem: `${path}: "expires" must be a number` } };
  return { record: { ...record, temporary: true }, expires };
}

/** Creates a file with `text`, flushed to disk, creating its directory (mode 0700) when missing. */
async function writeNewFile(path: string, text: string): Promise<void> {
  const create = () => open(path, 'wx', FILE_MODE);
  let handle;
  try {
    handle = await create();
  } catch (err) {
    if (errorCode(err) !== 'ENOENT') throw err;
    await mkdir(dirname(path), { recursive: true, mode: DIR_MODE });
    handle = await create();
  }
  try {
    await handle.writeFile(text);
    // Flushed before the rename, so that a crash cannot leave an empty file under the real name.
    await handle.sync();
  } finally {
    await handle.close();
  }
}

