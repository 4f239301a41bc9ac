import type { Command } from 'commander';
import { readCluster } from '@logyard/core';
import { openStore, type ClusterView, type Store } from '@logyard/store';
import { configOf } from '../context.js';
import { runtimeError } from '../errors.js';
import { topFrame } from '../live/top-frame.js';

/** The view is refreshed every second (docs/live.md). */
const REFRESH_MS = 1_000;
/** Keys `--once` shows; the live screen shows as many as fit. */
const ONCE_KEYS = 20;

export function registerTopCommand(program: Command): void {
  program
    .command('top')
    .description('a live view of the cluster, refreshed every second (q quits, s sorts, / filters)')
    .option('--once', 'print one frame as plain text and exit')
    .action(async (opts: { once?: boolean }, cmd: Command) => {
      const config = configOf(cmd);
      const store = await openStore(config.store);
      const title = config.store.startsWith('file:') ? `this node (${config.nodeId}), file store` : store.description;
      try {
        if (opts.once || !process.stdout.isTTY || !process.stdin.isTTY) {
          const { view } = await readCluster(store);
          process.stdout.write(topFrame(view, { sort: 'name', filter: '', keys: ONCE_KEYS, title }).join('\n') + '\n');
          return;
        }
        // The terminal library is loaded only when the live screen runs.
        const { TopScreen } = await import('../live/top-screen.js');
        await new TopScreen(() => readView(store), { sort: 'name', filter: '', keys: ONCE_KEYS, title }, REFRESH_MS).run();
      } finally {
        await store.close();
      }
    });
}

async function readView(store: Store): Promise<ClusterView> {
  try {
    return (await readCluster(store)).view;
  } catch (err) {
    throw runtimeError((err as Error).message, err);
  }
}

