import type { IKeyValue, IWatchResponse } from 'etcd3';
import { StoreError } from './errors.js';
import { Backoff, sleep } from './time.js';
import type { StreamWatch, WatchEnd, WatchStream } from './etcd-watch-stream.js';
import type { WatchUpdate } from './types.js';

/** A reply of etcd's range: the revision it was read at, the keys and values, and how many keys the range has. */
export interface RangeReply {
  header: { revision: string };
  kvs: IKeyValue[];
  /** Every key of the range, whether returned or not (etcd counts before applying min_mod_revision). */
  count: string;
}

/** What a watch reads from etcd to start, and to catch up after a break (see PrefixWatch). */
export interface PrefixReads {
  /** Every key and value under the prefix. */
  list(): Promise<RangeReply>;
  /** The keys under the prefix written at `revision` or later, with their values, and the count of all keys. */
  changedSince(revision: bigint): Promise<RangeReply>;
  /** The names of the keys under the prefix at `revision` (no values). */
  keysAt(revision: string): Promise<string[]>;
}

/** One read a watch made: a whole listing, the keys written since its last revision, or the keys alone (some were deleted). */
export interface WatchRead {
  what: string;
  kind: 'list' | 'changes' | 'keys';
  /** Keys the reply held. */
  keys: number;
}

export interface PrefixWatchOptions<T extends { name: string }> {
  description: string;
  /** Keys watched: everything under it. */
  prefix: string;
  /** What is watched, for messages: `drains`, `formats`. */
  what: string;
  /** The entry a key and value stand for; undefined leaves the key out. */
  decode: (kv: IKeyValue) => T | undefined;
  reads: PrefixReads;
  unavailable: (action: string, err: unknown) => StoreError;
  onChange: (update: WatchUpdate<T>) => void;
  onError: (error: StoreError) => void;
  onRecovered: () => void;
  /** Told of every read from etcd (the cluster simulator counts them). */
  onRead?: (read: WatchRead) => void;
  /** Waits between attempts while etcd is away: `ms`, or less once etcd is back (EtcdConnection.pause). */
  pause?: (ms: number) => Promise<void>;
}

/**
 * Lists the entries under a prefix, then watches them from the next revision. When the watch stream
 * breaks, or etcd cancels the watch (its revision compacted), it catches up by reading what changed
 * and watches from there, retrying with backoff until etcd answers (docs/store.md: catch up, then
 * watch). Never gives up until closed. It delivers its own map of the entries (nothing copied or
 * sorted) with the names that changed since the last delivery, and only when one did (compared
 * entry by entry: with a thousand drains, a change costs one entry, not all of them, here and in
 * the core that applies it). A change reaches the receiver once, however it was learned: by the
 * watch, or by catching up after a break.
 *
 * Catching up is not resuming the watch from the last revision seen: etcd serves a watch that starts
 * behind its current revision by reading every change made since, of every key, from its database,
 * for at most 512 watchers at a time (after an outage of a cluster of 1,000 nodes, 3,000 watchers
 * reading all the status documents written meanwhile: tens of seconds), and a revision compacted
 * meanwhile gets the watch cancelled. Nor is it listing every entry again (after an outage, each of
 * 1,000 nodes read its 1,000 drains again: about 100 KB for etcd to send and for the node to take
 * in, a third of what a simulated node spent catching up). It reads
 * the keys written since the last revision it had applied (etcd's min_mod_revision: a revision
 * compacted since does not matter, a key's mod_revision stays), which after an outage is none or a
 * few, with the count of every key under the prefix: the keys it knows not written since must number
 * the keys not returned, else some were deleted, and only then does it read the names of the keys
 * (no values) to know which.
 */
export class PrefixWatch<T extends { name: string }> {
  private readonly entries = new Map<string, T>();
  /** The names added, changed or deleted since the last delivery. */
  private changed = new Set<string>();
  /** Each key's entry as decoded (keys that decode to nothing have none). */
  private byKey = new Map<string, T>();
  /** Every key under the prefix, with its mod_revision: what a listing need not decode again. */
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
    await this.catchUp();
    this.watchFrom(this.applied + 1n);
  }

  async close(): Promise<void> {
    this.closed = true;
    // A restart in progress sees `closed` and stops by itself; it is not waited for, since it may be
    // sleeping between attempts while etcd is away.
    this.watcher?.cancel();
    this.watcher = undefined;
  }

  /**
   * Brings `entries` to etcd's current revision and delivers what changed: a whole listing the first
   * time (delivered even when empty), then what changed.
   */
  private async catchUp(): Promise<void> {
    if (this.listedOnce) await this.readChanges();
    else await this.relist();
  }

  /** Lists every key again. */
  private async relist(): Promise<void> {
    const response = await this.options.reads.list();
    this.read('list', response.kvs.length);
    const listed = new Set<string>();
    for (const kv of response.kvs) {
      listed.add(kv.key.toString());
      this.put(kv);
    }
    for (const key of [...this.revisions.keys()]) if (!listed.has(key)) this.remove(key);
    this.applied = BigInt(response.header.revision);
    const first = !this.listedOnce;
    this.listedOnce = true;
    this.deliver(first);
  }

  /** Reads the keys written since `applied`, and which were deleted when some were. */
  private async readChanges(): Promise<void> {
    const response = await this.options.reads.changedSince(this.applied + 1n);
    this.read('changes', response.kvs.length);
    // The keys known before and not written since must be the keys etcd did not return.
    let knownUnwritten = this.revisions.size;
    for (const kv of response.kvs) if (this.revisions.has(kv.key.toString())) knownUnwritten--;
    const unwritten = Number(response.count) - response.kvs.length;
    // More than it knows: what it holds is not what it thinks. Listed anew.
    if (unwritten > knownUnwritten) return this.relist();
    if (unwritten < knownUnwritten) {
      const keys = await this.options.reads.keysAt(response.header.revision);
      this.read('keys', keys.length);
      const present = new Set(keys);
      for (const key of [...this.revisions.keys()]) if (!present.has(key)) this.remove(key);
    }
    for (const kv of response.kvs) this.put(kv);
    this.applied = BigInt(response.header.revision);
    this.deliver();
  }

  private read(kind: WatchRead['kind'], keys: number): void {
    this.options.onRead?.({ what: this.options.what, kind, keys });
  }

  /**
   * Takes a key's value: decoded, unless it is the one last seen (by mod_revision: after a listing,
   * 1,000 drains not written since are not decoded or compared again). A value rewritten the same
   * (a drain put again unchanged) changes nothing.
   */
  private put(kv: IKeyValue): void {
    const key = kv.key.toString();
    if (this.revisions.get(key) === kv.mod_revision) return;
    this.revisions.set(key, kv.mod_revision);
    const entry = this.options.decode(kv);
    const before = this.byKey.get(key);
    if (sameEntry(before, entry)) return;
    if (before) this.forget(key, before);
    if (entry) {
      this.byKey.set(key, entry);
      this.entries.set(entry.name, entry);
      this.changed.add(entry.name);
    }
  }

  /** Forgets a key that was deleted. */
  private remove(key: string): void {
    this.revisions.delete(key);
    const before = this.byKey.get(key);
    if (before) this.forget(key, before);
  }

  private forget(key: string, entry: T): void {
    this.byKey.delete(key);
    this.entries.delete(entry.name);
    this.changed.add(entry.name);
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
    for (const event of response.events) {
      if (event.type === 'Delete') this.remove(event.kv.key.toString());
      else this.put(event.kv);
      const revision = BigInt(event.kv.mod_revision);
      if (revision > this.applied) this.applied = revision;
    }
    this.recovered();
    this.deliver();
  }

  /** The watch ended: etcd cancelled it (its revision compacted) or the stream broke. Catches up. */
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
   * Catches up and watches from there, retrying with backoff until it works or the watch is closed;
   * after a broken stream, first waits a little (etcd is likely still away).
   */
  private async restart(waitFirst = false): Promise<void> {
    const backoff = new Backoff();
    const pause = this.options.pause ?? sleep;
    if (waitFirst) await pause(backoff.next());
    while (!this.closed) {
      try {
        await this.catchUp();
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

  /** Delivers the entries if a name changed since the last delivery (or `always`: the first listing). */
  private deliver(always = false): void {
    if (this.closed || (this.changed.size === 0 && !always)) return;
    const changed = this.changed;
    this.changed = new Set();
    this.options.onChange({ entries: this.entries, changed });
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

/** Whether two decoded entries are the same (both absent counts as the same). */
function sameEntry<T>(a: T | undefined, b: T | undefined): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}
