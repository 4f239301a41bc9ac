import type { ClusterView } from '@logyard/store';
import { formatTable } from '../table.js';
import { ago, bytes, perSecond } from './units.js';

/** What `s` cycles through: the order of the drains. */
export const SORTS = ['name', 'out/s', 'drops/s'] as const;
export type TopSort = (typeof SORTS)[number];

export interface TopOptions {
  sort: TopSort;
  /** Only drains and keys whose name contains it. */
  filter: string;
  /** Keys shown at most. */
  keys: number;
  /** Set on the file store: this node alone. */
  title: string;
}

/** One row of the drains table; `state` kept apart so the live screen can colour it. */
export interface DrainLine {
  cells: string[];
  state: string;
}

/**
 * One frame of `logyard top` as plain text lines (docs/live.md): every drain on every node with
 * its state, events/s out, dropped/s by reason, buffer fill (memory and disk); the busiest keys;
 * each node with events/s in and its clients.
 */
export function topFrame(view: ClusterView, options: TopOptions, now = Date.now() / 1000): string[] {
  const match = (name: string): boolean => options.filter === '' || name.includes(options.filter);
  const drains = view.drains.filter((d) => match(d.name));
  if (options.sort === 'out/s') drains.sort((a, b) => b.out_per_s - a.out_per_s);
  if (options.sort === 'drops/s') drains.sort((a, b) => b.dropped_per_s - a.dropped_per_s);
  const clock = new Date(now * 1000).toTimeString().slice(0, 8);
  const header = `logyard top  ${clock}  ${view.nodes.length} ${view.nodes.length === 1 ? 'node' : 'nodes'}, ${drains.length} ${drains.length === 1 ? 'drain' : 'drains'}  ${options.title}`;
  const help = `sort: ${options.sort}${options.filter ? `  filter: ${options.filter}` : ''}    q quit  s sort  / filter`;

  const drainRows = [['DRAIN', 'NODE', 'STATE', 'OUT/S', 'DROPPED/S', 'BUFFER', 'DISK', 'ERROR']];
  for (const d of drains) {
    d.nodes.forEach((n, i) => {
      const dropped = Object.entries(n.dropped_per_s).filter(([, r]) => r > 0);
      drainRows.push([
        i === 0 ? d.name : '',
        n.node_id,
        n.state,
        perSecond(n.out_per_s),
        dropped.length ? dropped.map(([reason, r]) => `${perSecond(r)} ${reason}`).join(', ') : '0',
        d.buffer ? `${n.buffered}/${d.buffer} ${Math.round((n.buffered * 100) / d.buffer)}%` : String(n.buffered),
        n.disk_bytes === undefined ? '-' : bytes(n.disk_bytes),
        n.error ?? '',
      ]);
    });
  }
  const keyRows = [['KEY', 'NODES', 'EVENTS/S', 'LAST SEEN']];
  for (const k of view.keys.filter((k) => match(k.key)).slice(0, options.keys)) {
    keyRows.push([k.key, k.nodes.join(','), perSecond(k.events_per_s), ago(k.last_seen, now)]);
  }
  const nodeRows = [['NODE', 'IN/S', 'CLIENTS', 'UPDATED']];
  // Every node, whatever the filter: they are few, and a node missing would look like one down.
  for (const n of view.nodes) {
    const clients = n.clients.map((c) => (c.running ? c.name : `${c.name} (stopped)`)).join(', ') || '-';
    nodeRows.push([n.node_id, perSecond(n.in_per_s), clients, ago(n.updated, now)]);
  }
  const lines = (rows: string[][]): string[] => formatTable(rows).trimEnd().split('\n');
  return [header, help, '', ...lines(drainRows), '', ...lines(keyRows), '', ...lines(nodeRows)];
}
