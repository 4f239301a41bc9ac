import { compareNames, type DrainRecord, type DrainsUpdate, type DrainState, type NodeStatus, type Store } from '../src/index.js';

export const RUNNING: DrainState = { state: 'RUNNING', sent: 12, dropped: { buffer_full: 3 }, buffered: 0 };

/** A node's status document, by default with one RUNNING drain `web`. */
export function nodeStatus(nodeId: string, drains: Record<string, DrainState> = { web: RUNNING }): NodeStatus {
  return { node_id: nodeId, updated: 1_700_000_000, drains };
}

export function uris(drains: DrainRecord[]): Record<string, string> {
  return Object.fromEntries(drains.map((drain) => [drain.name, drain.uri]));
}

/** The drains of the last set a watch delivered, as name -> URI. */
export function latest(deliveries: DrainRecord[][]): Record<string, string> | undefined {
  const last = deliveries.at(-1);
  return last && uris(last);
}

export async function rejectionOf(promise: Promise<unknown>): Promise<Error> {
  return promise.then(
    () => {
      throw new Error('expected a rejection');
    },
    (err: Error) => err,
  );
}

/** The drains of a watchDrains delivery, sorted by name: a copy, as the watch's own map changes at its next delivery. */
export function drainList(update: DrainsUpdate): DrainRecord[] {
  return [...update.entries.values()].sort((a, b) => compareNames(a.name, b.name));
}

/** Every set a drains watch of `store` delivers, in order (the array fills as deliveries come). */
export async function watchFrom(store: Store): Promise<DrainRecord[][]> {
  const deliveries: DrainRecord[][] = [];
  await store.watchDrains((update) => deliveries.push(drainList(update)));
  return deliveries;
}

/** The names a watchDrains delivery says changed, sorted. */
export function changedNames(update: DrainsUpdate): string[] {
  return [...update.changed].sort(compareNames);
}
