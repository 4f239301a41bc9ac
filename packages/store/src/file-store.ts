import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { mkdir, open, readFile, readdir, rename, rm, rmdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { watch, type FSWatcher } from 'chokidar';
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

export interface FileStoreOptions {
  /** How long a temporary drain or a node entry outlives its last refresh. Default 10 000 ms. */
  ttlMs?: number;
  /** How often their owner refreshes them. Default 3 000 ms, so two refreshes can fail before one expires. */
  refreshMs?: number;
}

const DEFAULT_TTL_MS = 10_000;
const DEFAULT_REFRESH_MS = 3_000;
/** Gathers the file events of one write (temp file, rename) or of a burst of writes into one re-list. */
const WATCH_DEBOUNCE_MS = 30;
/** How soon a watch lists again after listing failed. */
const WATCH_RETRY_MS = 1_000;
/** Slack after an expiry time before re-listing, so the entry is surely past it. */
const EXPIRY_SLACK_MS = 10;
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
 *     nodes/<node_id>.json             {"started","version","expires"}
 *     status/<drain>/<node_id>.json    the NodeDrainStatus
 *
 * Files are replaced atomically (temporary file, then rename), so readers never see half a write.
 * What etcd does with leases is done here with "expires" times that their owner keeps pushing
 * forward: readers ignore entries past their time, and delete those that are clearly abandoned.
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

  async putDrain(name: string, uri: string): Promise<void> {
    assertStoreDrainName(name);
    return this.run(() => this.writeJson(drainPath(name), { uri, created: nowUnix() }));
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
    onChange: (drains: DrainRecord[]) => void,
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

  async putStatus(status: NodeDrainStatus): Promise<void> {
    assertDrainName(status.drain);
    assertNodeId(status.node_id);
    return this.run(() => this.writeJson(statusPath(status.drain, status.node_id), status));
  }

  async deleteStatus(drain: string, nodeId: string): Promise<void> {
    assertDrainName(drain);
    assertNodeId(nodeId);
    return this.run(() => this.removeStatus(drain, nodeId));
  }

  async listStatus(): Promise<NodeDrainStatus[]> {
    return this.run(async () => {
      const liveNodes = await this.readLiveNodes();
      const statuses: NodeDrainStatus[] = [];
      for (const drain of await this.listSubdirectories('status')) {
        for (const nodeId of await this.listJsonFiles(join('status', drain))) {
          if (!liveNodes.has(nodeId)) continue;
          const status = parseJsonObject(await this.readText(statusPath(drain, nodeId)));
          // A status that cannot be read is skipped: its node rewrites it at its next change.
          if (status) statuses.push({ ...(status as unknown as NodeDrainStatus), drain, node_id: nodeId });
        }
      }
      return statuses.sort((a, b) => compare(a.drain, b.drain) || compare(a.node_id, b.node_id));
    });
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
    return this.watchDirectory('formats', read, (formats) => onChange(formatsByName(formats)), onError, onRecovered);
  }

  private watchDirectory<T>(
    name: string,
    read: () => Promise<Listed<T>[]>,
    onChange: (entries: T[]) => void,
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
    const drain = parseDrain(name, path, text);
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
    for (const drain of await this.listSubdirectories('status')) await this.removeStatus(drain, nodeId);
    await this.removeFile(nodePath(nodeId));
  }

  private async removeStatus(drain: string, nodeId: string): Promise<void> {
    await this.removeFile(statusPath(drain, nodeId));
    try {
      await rmdir(join(this.dir, 'status', drain));
    } catch (err) {
      // Other nodes' status is still there (or the directory is already gone): nothing to tidy.
      if (!['ENOTEMPTY', 'EEXIST', 'ENOENT'].includes(errorCode(err) ?? '')) throw this.unavailable(`remove status/${drain}`, err);
    }
  }

  /** Names of the `*.json` files in a directory of the store, without `.json`; none if it is missing. */
  private async listJsonFiles(directory: string): Promise<string[]> {
    const entries = await this.readDirectory(directory);
    return entries.filter((entry) => entry.isFile() && entry.name.endsWith('.json')).map((entry) => entry.name.slice(0, -'.json'.length));
  }

  private async listSubdirectories(directory: string): Promise<string[]> {
    return (await this.readDirectory(directory)).filter((entry) => entry.isDirectory()).map((entry) => entry.name);
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
  private async writeJson(path: string, value: object): Promise<void> {
    const target = join(this.dir, path);
    const temporary = `${target}.${process.pid}-${randomBytes(4).toString('hex')}.tmp`;
    try {
      await writeNewFile(temporary, `${JSON.stringify(value)}\n`);
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
const nodePath = (nodeId: string): string => join('nodes', `${nodeId}.json`);
const statusPath = (drain: string, nodeId: string): string => join('status', drain, `${nodeId}.json`);

function errorCode(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException | undefined)?.code;
}

/**
 * Reads a drain file. One that cannot be used is still returned, with a `problem` and no URI, so
 * that one broken file (edited by hand, left by another version) neither hides nor breaks the rest.
 */
function parseDrain(name: string, path: string, text: string): StoredDrain {
  const unusable = (problem: string): StoredDrain => ({ record: { name, uri: '', created: 0, problem: `${path}: ${problem}` } });
  const nameProblem = drainNameProblem(name);
  if (nameProblem) return unusable(nameProblem);
  if (isBuiltinDrainName(name)) return unusable('builtin.* drains are defined by the config file, not the store');
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    return unusable('not valid JSON');
  }
  if (typeof data !== 'object' || data === null || Array.isArray(data)) return unusable('not a JSON object');
  const { uri, created, expires } = data as Record<string, unknown>;
  if (typeof uri !== 'string' || uri === '') return unusable('"uri" must be a non-empty string');
  if (typeof created !== 'number') return unusable('"created" must be a number');
  if (expires === undefined) return { record: { name, uri, created } };
  if (typeof expires !== 'number') return unusable('"expires" must be a number');
  return { record: { name, uri, created, temporary: true }, expires };
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

/**
 * Runs `task` every `intervalMs`, never two at once, until the task returns false or stop() is
 * called; stop() waits for a run in progress. The task must not throw.
 */
class Refresher {
  private readonly timer: NodeJS.Timeout;
  private running: Promise<void> | undefined;

  constructor(intervalMs: number, task: () => Promise<boolean>) {
    this.timer = setInterval(() => {
      this.running ??= task().then((keepGoing) => {
        this.running = undefined;
        if (!keepGoing) clearInterval(this.timer);
      });
    }, intervalMs);
    // Refreshing alone must not keep a process alive that has nothing else to do.
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.running;
  }
}

/** What a directory holds when listed: the entries, and the time (unix seconds) each stops counting, if any. */
interface Listed<T> {
  entry: T;
  expires?: number;
}

interface DirectoryWatchOptions<T> {
  /** The directory under the store: `drains`, `formats`. */
  name: string;
  directory: string;
  read: () => Promise<Listed<T>[]>;
  unavailable: (action: string, err: unknown) => StoreUnavailableError;
  onChange: (entries: T[]) => void;
  onError: (error: StoreError) => void;
  onRecovered: () => void;
}

/**
 * Delivers a directory's entries after every change: chokidar reports changes (from any
 * process), a timer reports the next expiry of an entry (a temporary drain), and each triggers a
 * re-list. Only sets that differ from the last one delivered are delivered.
 */
class DirectoryWatch<T> {
  private watcher: FSWatcher | undefined;
  private relistTimer: NodeJS.Timeout | undefined;
  private expiryTimer: NodeJS.Timeout | undefined;
  private relisting: Promise<void> | undefined;
  private relistAgain = false;
  private delivered: string | undefined;
  private failing = false;
  private closing: Promise<void> | undefined;

  constructor(private readonly options: DirectoryWatchOptions<T>) {}

  /** Starts watching, then delivers the current set before returning, so no change falls between. */
  async start(): Promise<void> {
    const { directory, unavailable, name } = this.options;
    try {
      await mkdir(directory, { recursive: true, mode: DIR_MODE });
    } catch (err) {
      throw unavailable(`create ${name}/`, err);
    }
    const watcher = watch(directory, { ignoreInitial: true, depth: 0, ignored: (path) => path.endsWith('.tmp') });
    this.watcher = watcher;
    watcher.on('all', () => this.scheduleRelist(WATCH_DEBOUNCE_MS));
    let listed: Listed<T>[];
    try {
      await once(watcher, 'ready');
      listed = await this.options.read();
    } catch (err) {
      await this.close();
      throw err instanceof StoreError ? err : unavailable(`watch ${name}/`, err);
    }
    watcher.on('error', (err) => this.options.onError(unavailable(`watch ${name}/`, err)));
    this.deliver(listed);
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      clearTimeout(this.relistTimer);
      clearTimeout(this.expiryTimer);
      await this.watcher?.close();
      await this.relisting;
    })();
    return this.closing;
  }

  private scheduleRelist(delayMs: number): void {
    if (this.closing || this.relistTimer) return;
    this.relistTimer = setTimeout(() => {
      this.relistTimer = undefined;
      void this.relist();
    }, delayMs);
  }

  private async relist(): Promise<void> {
    if (this.relisting) {
      this.relistAgain = true;
      return;
    }
    this.relisting = (async () => {
      do {
        this.relistAgain = false;
        let listed: Listed<T>[];
        try {
          listed = await this.options.read();
        } catch (err) {
          // The last set delivered stays in force until a list succeeds.
          this.failing = true;
          this.options.onError(err instanceof StoreError ? err : this.options.unavailable(`list ${this.options.name}/`, err));
          this.scheduleRelist(WATCH_RETRY_MS);
          return;
        }
        if (this.closing) return;
        if (this.failing) {
          this.failing = false;
          this.options.onRecovered();
        }
        this.deliver(listed);
      } while (this.relistAgain);
    })();
    try {
      await this.relisting;
    } finally {
      this.relisting = undefined;
    }
  }

  private deliver(listed: Listed<T>[]): void {
    this.scheduleExpiry(listed);
    const entries = listed.map((item) => item.entry);
    // Refreshing a temporary drain rewrites its file without changing what a user sees.
    const signature = JSON.stringify(entries);
    if (signature === this.delivered) return;
    this.delivered = signature;
    this.options.onChange(entries);
  }

  private scheduleExpiry(listed: Listed<T>[]): void {
    clearTimeout(this.expiryTimer);
    const next = listed.reduce((soonest, item) => Math.min(soonest, item.expires ?? Infinity), Infinity);
    if (next === Infinity) return;
    const delayMs = Math.max(0, (next - nowUnix()) * 1000) + EXPIRY_SLACK_MS;
    this.expiryTimer = setTimeout(() => this.scheduleRelist(0), delayMs);
  }
}
