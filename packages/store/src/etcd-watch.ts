import type { Etcd3, IKeyValue, Watcher } from 'etcd3';
import { StoreError } from './errors.js';
import { compare } from './json.js';
import { Backoff, sleep, withTimeout } from './time.js';

export interface PrefixWatchOptions<T extends { name: string }> {
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
 * Lists the entries under a prefix, then watches them from the next revision. When the watch stream
 * breaks, or etcd cancels the watch (its revision compacted), it lists again and watches from there,
 * retrying with backoff until etcd answers (docs/store.md: re-list, then watch). Not resumed from the
 * last revision seen: etcd serves a watch that starts behind its current revision by reading every
 * change made since, of every key, from its database, for at most 512 watchers at a time; after an
 * outage of a cluster of 1,000 nodes that is 3,000 watchers reading all the status documents written
 * meanwhile, tens of seconds, where listing a prefix costs etcd one read of its own keys. Never gives
 * up until closed. Entries are delivered sorted by name, and only when they changed (compared entry by
 * entry: with a thousand drains, a change costs one entry, not all of them).
 */
export class PrefixWatch<T extends { name: string }> {
  private entries = new Map<string, T>();
  /** Each key's entry as decoded and its mod_revision then: what a listing need not decode again. */
  private byKey = new Map<string, T>();
  private revisions = new Map<string, string>();
  private listedOnce = false;
  private watcher: Watcher | undefined;
  /** Every change under the prefix up to this revision is in `entries`. */
  private applied = 0n;
  private failing = false;
  private restarting: Promise<void> | undefined;
  private closed = false;

  constructor(
    private readonly client: Etcd3,
    private readonly options: PrefixWatchOptions<T>,
  ) {}

  async start(): Promise<void> {
    await this.relist();
    this.watchFrom(this.applied + 1n);
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
    const listed = new Map<string, T>();
    const revisions = new Map<string, string>();
    let changed = !this.listedOnce;
    for (const kv of response.kvs) {
      const key = kv.key.toString();
      revisions.set(key, kv.mod_revision);
      // A key not written since the last listing is the entry it was: not decoded or compared again
      // (a thousand nodes list a thousand drains each after an outage).
      const known = this.revisions.get(key) === kv.mod_revision ? this.byKey.get(key) : undefined;
      const entry = known ?? this.options.decode(kv);
      if (!entry) continue;
      if (!known) this.byKey.set(key, entry);
      listed.set(entry.name, entry);
      changed ||= !known && !sameEntry(this.entries.get(entry.name), entry);
    }
    changed ||= listed.size !== this.entries.size;
    for (const key of this.byKey.keys()) if (!revisions.has(key)) this.byKey.delete(key);
    this.revisions = revisions;
    this.listedOnce = true;
    this.entries = listed;
    this.applied = BigInt(response.header.revision);
    if (changed) this.deliver();
  }

  /**
   * Watches from `revision` with a new watcher from etcd3's watch builder. `.watcher()` rather than
   * `.create()`: create() settles only once etcd answers, and hides a watcher's `disconnected`
   * until then, so an outage starting while it connects would go unreported.
   */
  private watchFrom(revision: bigint): void {
    const { prefix, what } = this.options;
    const watcher = this.client.watch().prefix(prefix).startRevision(revision.toString()).watcher();
    this.watcher = watcher;
    const current = (): boolean => this.watcher === watcher && !this.closed;
    watcher.on('data', (response) => {
      if (!current()) return;
      let changed = false;
      for (const event of response.events) {
        const key = event.kv.key.toString();
        const name = key.slice(prefix.length);
        const entry = event.type === 'Delete' ? undefined : this.options.decode(event.kv);
        if (entry) {
          this.byKey.set(key, entry);
          this.revisions.set(key, event.kv.mod_revision);
        } else {
          this.byKey.delete(key);
          this.revisions.delete(key);
        }
        const before = this.entries.get(entry?.name ?? name);
        if (entry) this.entries.set(entry.name, entry);
        else this.entries.delete(name);
        changed ||= !sameEntry(before, entry);
        const revision = BigInt(event.kv.mod_revision);
        if (revision > this.applied) this.applied = revision;
      }
      this.recovered();
      if (changed) this.deliver();
    });
    watcher.on('connected', () => {
      if (current()) this.recovered();
    });
    watcher.on('disconnected', (err: Error) => {
      if (!current()) return;
      // Not connected, so cancelling only detaches it: the client does not resume it by itself.
      this.watcher = undefined;
      void watcher.cancel().catch(() => undefined);
      this.failed(this.options.unavailable(`watch ${what}`, err));
      this.restarting ??= this.restart(true).finally(() => (this.restarting = undefined));
    });
    watcher.on('error', (err: Error) => {
      // Cancelled by etcd, typically because the revision was compacted: list again.
      if (!current()) return;
      this.watcher = undefined;
      void watcher.cancel().catch(() => undefined);
      const reason = err.message.replace(/^.*Watcher canceled:\s*/, '').trim();
      this.failed(new StoreError(`${this.options.description}: etcd cancelled the ${what.replace(/s$/, '')} watch (${reason || 'its revision was compacted'}); listing the ${what} again`));
      this.restarting ??= this.restart().finally(() => (this.restarting = undefined));
    });
  }

  /**
   * Lists again and watches from there, retrying with backoff until it works or the watch is closed;
   * after a broken stream, first waits a little (etcd is likely still away).
   */
  private async restart(waitFirst = false): Promise<void> {
    const backoff = new Backoff();
    if (waitFirst) await sleep(backoff.next());
    while (!this.closed) {
      try {
        await this.relist();
        if (this.closed) return;
        this.watchFrom(this.applied + 1n);
        this.recovered();
        return;
      } catch (err) {
        this.failed(err instanceof StoreError ? err : this.options.unavailable(`list ${this.options.what}`, err));
        await sleep(backoff.next());
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
    this.options.onChange([...this.entries.values()].sort((a, b) => compare(a.name, b.name)));
  }
}

/** Whether two decoded entries are the same (both absent counts as the same). */
function sameEntry<T>(a: T | undefined, b: T | undefined): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}
