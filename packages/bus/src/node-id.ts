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
