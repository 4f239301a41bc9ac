import { DEFAULT_BUFFER } from '@logyard/drains';
import { clusterView, type ClusterView, type NodeStatus, type Store } from '@logyard/store';

/**
 * The nodes' status documents and the picture `top` and the web console show, read from the
 * store: drains deleted meanwhile left out.
 */
export async function readCluster(store: Store): Promise<{ nodes: NodeStatus[]; view: ClusterView }> {
  // Status first: a drain deleted after it was read is then missing from the drains, and left out.
  const nodes = await store.listNodeStatus();
  const known = new Map((await store.listDrains()).map((d) => [d.name, { buffer: bufferSize(d.uri) }]));
  return { nodes, view: clusterView(nodes, known) };
}

/** The `buffer` param of a drain URI (events held in memory), as the drain takes it. */
function bufferSize(uri: string): number {
  const query = uri.indexOf('?');
  const value = query < 0 ? null : new URLSearchParams(uri.slice(query + 1)).get('buffer');
  const n = Number(value);
  return value !== null && Number.isSafeInteger(n) && n > 0 ? n : DEFAULT_BUFFER;
}
