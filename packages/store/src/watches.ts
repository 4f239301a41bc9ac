import { compare } from './json.js';
import type { StoreWatch, WatchUpdate } from './types.js';

/** What each backend's watcher offers. */
export interface Watcher {
  start(): Promise<void>;
  close(): Promise<void>;
}

/** The entries of an update sorted by name: what the watches of formats and tenants (a few entries) deliver. */
export function sortedEntries<T extends { name: string }>(update: WatchUpdate<T>): T[] {
  return [...update.entries.values()].sort((a, b) => compare(a.name, b.name));
}

/** The watches a store has open, so that closing the store closes them all. */
export class OpenWatches {
  private readonly open = new Set<Watcher>();

  async start(watcher: Watcher): Promise<StoreWatch> {
    await watcher.start();
    this.open.add(watcher);
    return {
      close: async () => {
        this.open.delete(watcher);
        await watcher.close();
      },
    };
  }

  async closeAll(): Promise<void> {
    await Promise.all([...this.open].map((watcher) => watcher.close()));
  }
}
