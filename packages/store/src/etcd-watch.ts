import type { IKeyValue, IWatchResponse } from 'etcd3';
import { StoreError } from './errors.js';
import { compare } from './json.js';
import { Backoff, sleep } from './time.js';
import type { StreamWatch, WatchEnd, WatchStream } from './etcd-watch-stream.js';

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
  /** Waits between attempts while etcd is away: `ms`, or less once etcd is back (EtcdConnection.pause). */
  pause?: (ms: number) => Promise<void>;
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
  /**
   * The names of `entries` in order, kept so as entries come and go: delivering a thousand drains
   * after one was added costs a binary search, not a sort of them all, on every node.
   */
  private order: string[] = [];
  /** Each key's entry as decoded and its mod_revision then: what a listing need not decode again. */
  private byKey = new Map<string, T>();
  private revisions = new Map<string, string>();
  private listedOnce = false;
  private watcher: StreamWatch | undefined;
  /** Every change under the prefix up to this revision is in `entries`. */
  private applied = 0n;
  private failing = false;
  private restarting: Promise<void> | undefined;
  private closed = false;

  constructor(
    private readonly stream: WatchStream,
    private readonly options: PrefixWatchOptions<T>,
  ) {}

  async start(): Promise<void> {
    await this.relist();
    this.watchFrom(this.applied + 1n);
  }

  async close(): Promise<void> {
    this.closed = true;
    // A restart in progress sees `closed` and stops by itself; it is not waited for, since it may be
    // sleeping between attempts while etcd is away.
    this.watcher?.cancel();
    this.watcher = undefined;
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
    this.order = [...listed.keys()].sort(compare);
    this.applied = BigInt(response.header.revision);
    if (changed) this.deliver();
  }

  /** Watches from `revision`, on the store's one watch stream (etcd-watch-stream.ts). */
  private watchFrom(revision: bigint): void {
    const { prefix } = this.options;
    const key = Buffer.from(prefix);
    let watcher: StreamWatch | undefined = undefined;
    const current = (): boolean => watcher !== undefined && this.watcher === watcher && !this.closed;
    watcher = this.stream.watch(
      { key, range_end: prefixEnd(key), start_revision: revision.toString() },
      {
        onCreated: () => {
          if (current()) this.recovered();
        },
        onEvents: (response) => {
          if (current()) this.apply(response);
        },
        onEnded: (end) => {
          if (current()) this.ended(end);
        },
      },
    );
    this.watcher = watcher;
  }

  private apply(response: IWatchResponse): void {
    const { prefix } = this.options;
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
      if (entry) {
        if (!before) insertSorted(this.order, entry.name);
        this.entries.set(entry.name, entry);
      } else if (before) {
        removeSorted(this.order, name);
        this.entries.delete(name);
      }
      changed ||= !sameEntry(before, entry);
      const revision = BigInt(event.kv.mod_revision);
      if (revision > this.applied) this.applied = revision;
    }
    this.recovered();
    if (changed) this.deliver();
  }

  /** The watch ended: etcd cancelled it (its revision compacted) or the stream broke. Lists again. */
  private ended(end: WatchEnd): void {
    const { what } = this.options;
    this.watcher = undefined;
    if (end.cancelledBy === 'stream') {
      this.failed(this.options.unavailable(`watch ${what}`, end.error));
      // etcd is likely still away: the restart waits a little first.
      this.restarting ??= this.restart(true).finally(() => (this.restarting = undefined));
      return;
    }
    const reason = end.reason.replace(/^.*Watcher canceled:\s*/, '').trim();
    this.failed(new StoreError(`${this.options.description}: etcd cancelled the ${what.replace(/s$/, '')} watch (${reason || 'its revision was compacted'}); listing the ${what} again`));
    this.restarting ??= this.restart().finally(() => (this.restarting = undefined));
  }

  /**
   * Lists again and watches from there, retrying with backoff until it works or the watch is closed;
   * after a broken stream, first waits a little (etcd is likely still away).
   */
  private async restart(waitFirst = false): Promise<void> {
    const backoff = new Backoff();
    const pause = this.options.pause ?? sleep;
    if (waitFirst) await pause(backoff.next());
    while (!this.closed) {
      try {
        await this.relist();
        if (this.closed) return;
        this.watchFrom(this.applied + 1n);
        this.recovered();
        return;
      } catch (err) {
        this.failed(err instanceof StoreError ? err : this.options.unavailable(`list ${this.options.what}`, err));
        await pause(backoff.next());
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
    this.options.onChange(this.order.map((name) => this.entries.get(name)!));
  }
}

/** The end of the key range of every key starting with `prefix` (etcd's range_end). */
function prefixEnd(prefix: Buffer): Buffer {
  const end = Buffer.from(prefix);
  for (let i = end.length - 1; i >= 0; i--) {
    if (end[i] < 0xff) {
      end[i]++;
      return end.subarray(0, i + 1);
    }
  }
  // All 0xff: to the end of the keyspace.
  return Buffer.from([0]);
}

/** Where `name` is or would go in the sorted `names`. */
function position(names: readonly string[], name: string): number {
  let low = 0;
  let high = names.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if (compare(names[middle], name) < 0) low = middle + 1;
    else high = middle;
  }
  return low;
}

function insertSorted(names: string[], name: string): void {
  names.splice(position(names, name), 0, name);
}

function removeSorted(names: string[], name: string): void {
  const at = position(names, name);
  if (names[at] === name) names.splice(at, 1);
}

/** Whether two decoded entries are the same (both absent counts as the same). */
function sameEntry<T>(a: T | undefined, b: T | undefined): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}
