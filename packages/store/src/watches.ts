import type { StoreWatch } from './types.js';

/** What each backend's drain watcher offers. */
export interface Watcher {
  start(): Promise<void>;
  close(): Promise<void>;
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
