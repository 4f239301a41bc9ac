import { once } from 'node:events';
import { mkdir } from 'node:fs/promises';
import { watch, type FSWatcher } from 'chokidar';
import { nowUnix } from '@logyard/bus';
import { StoreError, type StoreUnavailableError } from './errors.js';
import type { WatchUpdate } from './types.js';

/** Gathers the file events of one write (temporary file, rename) or of a burst of writes into one re-list. */
const WATCH_DEBOUNCE_MS = 30;
/** How soon a watch lists again after listing failed. */
const WATCH_RETRY_MS = 1_000;
/** Slack after an expiry time before re-listing, so the entry is surely past it. */
const EXPIRY_SLACK_MS = 10;
const DIR_MODE = 0o700;

/** What a directory holds when listed: the entries, and the time (unix seconds) each stops counting, if any. */
export interface Listed<T> {
  entry: T;
  expires?: number;
}

export interface DirectoryWatchOptions<T extends { name: string }> {
  /** The directory under the store: `drains`, `formats`. */
  name: string;
  directory: string;
  read: () => Promise<Listed<T>[]>;
  unavailable: (action: string, err: unknown) => StoreUnavailableError;
  onChange: (update: WatchUpdate<T>) => void;
  onError: (error: StoreError) => void;
  onRecovered: () => void;
}

/**
 * Delivers a directory's entries after every change: chokidar reports changes (from any
 * process), a timer reports the next expiry of an entry (a temporary drain), and each triggers a
 * re-list. Each listing is compared with the last entry by entry, and only the names that changed
 * are delivered, with the watch's own map of the entries (as etcd's PrefixWatch delivers them).
 */
export class DirectoryWatch<T extends { name: string }> {
  private watcher: FSWatcher | undefined;
  private relistTimer: NodeJS.Timeout | undefined;
  private expiryTimer: NodeJS.Timeout | undefined;
  private relisting: Promise<void> | undefined;
  private relistAgain = false;
  private readonly entries = new Map<string, T>();
  /** Each entry as last delivered, as JSON: what a listing is compared with. */
  private readonly delivered = new Map<string, string>();
  private listedOnce = false;
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

  /** Delivers the names whose entries differ from the last delivery (the first listing always). */
  private deliver(listed: Listed<T>[]): void {
    this.scheduleExpiry(listed);
    const changed = new Set<string>();
    const present = new Set<string>();
    for (const { entry } of listed) {
      present.add(entry.name);
      // Refreshing a temporary drain rewrites its file without changing what a user sees.
      const json = JSON.stringify(entry);
      if (this.delivered.get(entry.name) === json) continue;
      this.delivered.set(entry.name, json);
      this.entries.set(entry.name, entry);
      changed.add(entry.name);
    }
    for (const name of this.entries.keys()) {
      if (present.has(name)) continue;
      this.entries.delete(name);
      this.delivered.delete(name);
      changed.add(name);
    }
    if (changed.size === 0 && this.listedOnce) return;
    this.listedOnce = true;
    this.options.onChange({ entries: this.entries, changed });
  }

  private scheduleExpiry(listed: Listed<T>[]): void {
    clearTimeout(this.expiryTimer);
    const next = listed.reduce((soonest, item) => Math.min(soonest, item.expires ?? Infinity), Infinity);
    if (next === Infinity) return;
    const delayMs = Math.max(0, (next - nowUnix()) * 1000) + EXPIRY_SLACK_MS;
    this.expiryTimer = setTimeout(() => this.scheduleRelist(0), delayMs);
  }
}
