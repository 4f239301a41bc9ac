import { compare } from './json.js';
import type { NodeStatus } from './types.js';

/** One row of `logyard streams`: a key over every node that published it. */
export interface StreamRow {
  key: string;
  nodes: string[];
  /** Over the last minute, all nodes together. */
  events_per_s: number;
  /** Unix time (seconds) of its last event on any node. */
  last_seen: number;
}

/** A drain on one node, as `top` and the console show it. */
export interface DrainOnNode {
  node_id: string;
  state: string;
  error?: string;
  out_per_s: number;
  dropped_per_s: Record<string, number>;
  sent: number;
  dropped: Record<string, number>;
  buffered: number;
  disk_bytes?: number;
}

export interface NodeRow {
  node_id: string;
  in_per_s: number;
  clients: Array<{ name: string; running: boolean }>;
  /** Unix time (seconds) its status was written. */
  updated: number;
}

/** The picture `logyard top` and the web console show: every drain on every node, the busiest keys, the nodes. */
export interface ClusterView {
  drains: Array<{ name: string; nodes: DrainOnNode[]; out_per_s: number; dropped_per_s: number; buffer?: number }>;
  keys: StreamRow[];
  nodes: NodeRow[];
}

/** The key every other key of a node is counted under (never a valid key: keys have no parentheses). */
export const OTHER_KEYS = '(other)';

/**
 * Every key the nodes published (their busiest; `PREFIX` limits them), merged across nodes,
 * busiest first; the nodes' `(other)` rows together last (only without a prefix: which prefix the
 * others have is not known).
 */
export function streamRows(nodes: readonly NodeStatus[], prefix = ''): StreamRow[] {
  const byKey = new Map<string, StreamRow>();
  for (const node of nodes) {
    const keys = node.live?.keys ?? [];
    for (const k of keys) {
      if (!k.key.startsWith(prefix)) continue;
      let row = byKey.get(k.key);
      if (!row) byKey.set(k.key, (row = { key: k.key, nodes: [], events_per_s: 0, last_seen: 0 }));
      row.nodes.push(node.node_id);
      row.events_per_s += k.events_per_s;
      row.last_seen = Math.max(row.last_seen, k.last_seen);
    }
  }
  const rows = [...byKey.values()].sort((a, b) => b.events_per_s - a.events_per_s || b.last_seen - a.last_seen || compare(a.key, b.key));
  for (const row of rows) row.events_per_s = round2(row.events_per_s);
  if (prefix !== '') return rows;
  const others = nodes.filter((n) => n.live?.other);
  if (others.length === 0) return rows;
  return [
    ...rows,
    {
      key: OTHER_KEYS,
      nodes: others.map((n) => n.node_id),
      events_per_s: round2(others.reduce((sum, n) => sum + n.live!.other!.events_per_s, 0)),
      last_seen: Math.max(...others.map((n) => n.live!.other!.last_seen)),
    },
  ];
}

/**
 * The cluster as `top` shows it, from the nodes' status documents. `known` limits the drains to
 * those that exist (a document may still hold one deleted a moment ago), with the size of each
 * one's memory buffer when known; built-in drains always show.
 */
export function clusterView(nodes: readonly NodeStatus[], known?: ReadonlyMap<string, { buffer?: number }>): ClusterView {
  const drains = new Map<string, DrainOnNode[]>();
  for (const node of nodes) {
    for (const [name, d] of Object.entries(node.drains)) {
      if (known && !known.has(name) && !d.builtin) continue;
      const rates = node.live?.drains[name];
      let list = drains.get(name);
      if (!list) drains.set(name, (list = []));
      list.push({
        node_id: node.node_id,
        state: d.state,
        ...(d.error === undefined ? {} : { error: d.error }),
        out_per_s: rates?.out_per_s ?? 0,
        dropped_per_s: rates?.dropped_per_s ?? {},
        sent: d.sent,
        dropped: d.dropped,
        buffered: d.buffered,
        ...(d.disk_bytes === undefined ? {} : { disk_bytes: d.disk_bytes }),
      });
    }
  }
  const sum = (values: number[]): number => round2(values.reduce((a, b) => a + b, 0));
  return {
    drains: [...drains]
      .sort(([a], [b]) => compare(a, b))
      .map(([name, list]) => ({
        name,
        nodes: list,
        out_per_s: sum(list.map((d) => d.out_per_s)),
        dropped_per_s: sum(list.flatMap((d) => Object.values(d.dropped_per_s))),
        ...(known?.get(name)?.buffer === undefined ? {} : { buffer: known.get(name)!.buffer }),
      })),
    keys: streamRows(nodes),
    nodes: nodes.map((n) => ({ node_id: n.node_id, in_per_s: n.live?.in_per_s ?? 0, clients: n.live?.clients ?? [], updated: n.updated })),
  };
}

function round2(n: number): number {
  return Math.round(n * 100) / 100;
}
