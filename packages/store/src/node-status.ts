import { StoreError } from './errors.js';
import { compare, isJsonObject, parseJsonObject } from './json.js';
import type { DrainState, NodeDrainStatus, NodeStatus } from './types.js';
import { nodeLiveFrom } from './node-live.js';

/**
 * A node's status document as stored: what NodeStatus holds but the node id, which the key or file
 * name gives. A drain's `dropped` when empty and `buffered` when 0 are left out (read back as such):
 * a document of 1,000 drains is rewritten every few seconds, and a third smaller is a third less
 * for etcd to write and keep in its history.
 */
export function encodeNodeStatus(status: NodeStatus): string {
  return withUpdated(encodeNodeStatusBody(status), status.updated);
}

/**
 * The document without its `updated` time: what a writer compares with what it last wrote, and
 * turns into the document with withUpdated(), so that a document of 1,000 drains is built once
 * per write, not twice (building it was most of a node's status CPU).
 */
export function encodeNodeStatusBody(status: Pick<NodeStatus, 'drains' | 'live'>): string {
  const drains: Record<string, Partial<DrainState>> = {};
  for (const name in status.drains) {
    if (!Object.prototype.hasOwnProperty.call(status.drains, name)) continue;
    const compact = compactDrainState(status.drains[name]);
    // A drain named __proto__ stays a drain.
    if (name === '__proto__') Object.defineProperty(drains, name, { value: compact, enumerable: true });
    else drains[name] = compact;
  }
  return JSON.stringify(status.live ? { drains, live: status.live } : { drains });
}

/** The document `body` (from encodeNodeStatusBody) with its `updated` time. */
export function withUpdated(body: string, updated: number): string {
  return `{"updated":${JSON.stringify(updated)},${body.slice(1)}`;
}

function compactDrainState(drain: DrainState): Partial<DrainState> {
  const compact: Partial<DrainState> = {};
  for (const key in drain) {
    const value = drain[key as keyof DrainState];
    if (key === 'dropped' ? isEmpty(value as DrainState['dropped']) : key === 'buffered' ? value === 0 : false) continue;
    (compact as Record<string, unknown>)[key] = value;
  }
  return compact;
}

function isEmpty(object: object): boolean {
  for (const _ in object) return false;
  return true;
}

/**
 * A node's status document as read back. One that cannot be read is undefined (its node rewrites it
 * at its next change), and a drain entry that cannot be read is left out, so that neither hides the rest.
 */
export function decodeNodeStatus(nodeId: string, text: string | undefined): NodeStatus | undefined {
  const data = parseJsonObject(text);
  if (!data || !isJsonObject(data.drains)) return undefined;
  const drains = Object.entries(data.drains).flatMap(([name, value]) => {
    const state = drainStateFrom(value);
    return state ? [[name, state] as const] : [];
  });
  // fromEntries defines own properties: a drain named __proto__ stays a drain.
  const live = nodeLiveFrom(data.live);
  return {
    node_id: nodeId,
    updated: typeof data.updated === 'number' ? data.updated : 0,
    drains: Object.fromEntries(drains),
    ...(live ? { live } : {}),
  };
}

/** The rows of `drain status`: one per drain per node, sorted by drain, then node. */
export function drainStatusRows(nodes: readonly NodeStatus[]): NodeDrainStatus[] {
  const rows = nodes.flatMap((node) =>
    Object.entries(node.drains).map(([drain, state]) => ({ drain, node_id: node.node_id, ...state, updated: node.updated })),
  );
  return rows.sort((a, b) => compare(a.drain, b.drain) || compare(a.node_id, b.node_id));
}

/** The node a store is registered as, for writing its status: a status lives under its node's entry. */
export function assertRegisteredAs(registered: string | undefined, nodeId: string, description: string): void {
  if (registered === nodeId) return;
  throw new StoreError(`${description}: node ${nodeId} must be registered before its status is written`);
}

function drainStateFrom(value: unknown): DrainState | undefined {
  if (!isJsonObject(value) || typeof value.state !== 'string') return undefined;
  const count = (n: unknown): number => (typeof n === 'number' && Number.isFinite(n) ? n : 0);
  const dropped = isJsonObject(value.dropped) ? Object.fromEntries(Object.entries(value.dropped).map(([reason, n]) => [reason, count(n)])) : {};
  return {
    state: value.state,
    ...(typeof value.error === 'string' ? { error: value.error } : {}),
    sent: count(value.sent),
    dropped,
    buffered: count(value.buffered),
    ...(typeof value.disk_bytes === 'number' ? { disk_bytes: count(value.disk_bytes), disk_events: count(value.disk_events) } : {}),
    ...(value.builtin === true ? { builtin: true } : {}),
  };
}
