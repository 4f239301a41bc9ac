import { isIPv4 } from 'node:net';
import { hostname, networkInterfaces } from 'node:os';

/** The default node_id: the first non-internal IPv4 address, else the host name. */
export function defaultNodeId(): string {
  for (const addrs of Object.values(networkInterfaces())) {
    for (const a of addrs ?? []) {
      if (a.family === 'IPv4' && !a.internal) return a.address;
    }
  }
  return hostname();
}

/**
 * Where a temporary drain's listener (`logyard tail`, the API's tail) can be reached by every
 * core: 127.0.0.1 on one node (file store), else this node's IPv4 address.
 */
export function defaultListenHost(store: string, nodeId: string): string {
  if (store.startsWith('file://')) return '127.0.0.1';
  if (isIPv4(nodeId)) return nodeId;
  const address = defaultNodeId();
  return isIPv4(address) ? address : '127.0.0.1';
}
