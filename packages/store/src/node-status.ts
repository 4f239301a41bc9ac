import { StoreError } from './errors.js';
import { compare, isJsonObject, parseJsonObject } from './json.js';
import type { DrainState, NodeDrainStatus, NodeStatus } from './types.js';
import { nodeLiveFrom } from './node-live.js';

/**
 * A node's status document as stored: what NodeStatus holds but the node id, which the key or file
 * name gives. What carries no information is left out (read back as such): a drain's `sent` and
 * `buffered` when 0, and in `dropped` the reasons still at 0 (and `dropped` itself when none is
 * left), and a drain's `state` when it is RUNNING. A document of 1,000 drains is rewritten whenever a
 * drain is added, and every byte of it is a byte for etcd to write and keep in its history: an idle
 * running drain is `"name":{}`.
 */
export function encodeNodeStatus(status: NodeStatus): string {
  return withUpdated(encodeNodeStatusBody(status), status.updated);
}

/**
 * The document without its `updated` time: what a writer compares with what it last wrote, and
 * turns into the document with withUpdated(). A writer of many documents keeps a NodeStatusEncoder.
 */
export function encodeNodeStatusBody(status: Pick<NodeStatus, 'drains' | 'live'>): string {
  return new NodeStatusEncoder().body(status);
}

/** The document `body` (from encodeNodeStatusBody) with its `updated` time. */
export function withUpdated(body: string, updated: number): string {
  return `{"updated":${JSON.stringify(updated)},${body.slice(1)}`;
}

/** A drain's entry as last encoded: the state it was encoded from (its own copy) and the text. */
interface EncodedDrain {
  state: DrainState;
  text: string;
  /** The drainsPart() call that last used it. */
  used: number;
  /** Its state and error in the last document written (see written()); `wasWritten` false: in none yet. */
  wasWritten: boolean;
  writtenState?: string;
  writtenError?: string;
}

/**
 * Encodes a node's successive status documents, each drain's entry once for as long as its state
 * and counters stay the same: a drain added to a node of 1,000 costs one entry and a join, not
 * 1,000 entries encoded again, and while events flow only the busy drains' entries are new. In the
 * same pass it tells whether a drain's state changed since the last document written (a writer
 * calls written() once one is), so that a writer needs no pass of its own over 1,000 drains to know.
 */
export class NodeStatusEncoder {
  private readonly drains = new Map<string, EncodedDrain>();
  private calls = 0;
  /**
   * Whether the last drainsPart() had a drain whose state or error differs from the last document
   * written, or one new since.
   */
  statesChanged = false;
  /** The drains whose entries changed (state or counters) or came since takeMoved() was last called. */
  private moved = new Set<string>();
  /** The entries of the last drainsPart() whose state or error is not what was last written: what written() marks. */
  private unwritten: EncodedDrain[] = [];
  /** How many drains the last drainsPart() had: more entries than that, and written() forgets those not in it. */
  private lastCount = 0;

  body(status: Pick<NodeStatus, 'drains' | 'live'>): string {
    return this.document(this.drainsPart(status.drains), status.live);
  }

  /** The document's `drains` object, as text; sets statesChanged. */
  drainsPart(drains: NodeStatus['drains']): string {
    const call = ++this.calls;
    const parts: string[] = [];
    const unwritten: EncodedDrain[] = [];
    for (const name in drains) {
      if (!Object.prototype.hasOwnProperty.call(drains, name)) continue;
      const state = drains[name];
      let encoded = this.drains.get(name);
      if (!encoded || !sameDrainState(encoded.state, state)) {
        const text = `${JSON.stringify(name)}:${JSON.stringify(compactDrainState(state))}`;
        const written = encoded ? { wasWritten: encoded.wasWritten, writtenState: encoded.writtenState, writtenError: encoded.writtenError } : { wasWritten: false };
        encoded = { state: copyDrainState(state), text, used: call, ...written };
        this.drains.set(name, encoded);
        this.moved.add(name);
      }
      encoded.used = call;
      if (!encoded.wasWritten || encoded.writtenState !== state.state || encoded.writtenError !== state.error) unwritten.push(encoded);
      parts.push(encoded.text);
    }
    // Drains gone from the node: their entries go too, but those in the last document written stay
    // until the next is (one back before then is as it was written).
    if (this.drains.size > parts.length) for (const [name, encoded] of this.drains) if (encoded.used !== call && !encoded.wasWritten) this.drains.delete(name);
    this.statesChanged = unwritten.length > 0;
    this.unwritten = unwritten;
    this.lastCount = parts.length;
    return `{${parts.join(',')}}`;
  }

  /**
   * The drains whose state or counters changed, or that came, since the last call (as drainsPart()
   * saw them): those whose rates may have changed (the core's DrainRates reads only those).
   */
  takeMoved(): ReadonlySet<string> {
    const moved = this.moved;
    this.moved = new Set();
    return moved;
  }

  /** The document from its `drains` part (drainsPart()) and the live part. */
  document(drains: string, live: NodeStatus['live']): string {
    return live ? `{"drains":${drains},"live":${JSON.stringify(live)}}` : `{"drains":${drains}}`;
  }

  /**
   * The document of the last drainsPart() was written: its drains' states are what readers have.
   * Marks only the entries whose written state changed (not a pass over 1,000 drains per write).
   */
  written(): void {
    for (const encoded of this.unwritten) {
      encoded.wasWritten = true;
      encoded.writtenState = encoded.state.state;
      encoded.writtenError = encoded.state.error;
    }
    this.unwritten = [];
    if (this.drains.size > this.lastCount) for (const [name, encoded] of this.drains) if (encoded.used !== this.calls) this.drains.delete(name);
  }
}

/**
 * The entry as stored: the drain's fields in this order, without those that say nothing. A drain
 * RUNNING is the rule, so its state is left out too: an idle running drain is `"name":{}`, which
 * halves a document of 1,000 idle drains (34 KB -> 16 KB), and with it what every node writes when
 * a drain is added and what `drain status` reads.
 */
function compactDrainState(drain: DrainState): Partial<DrainState> {
  return {
    ...(drain.state === 'RUNNING' ? {} : { state: drain.state }),
    ...(drain.error === undefined ? {} : { error: drain.error }),
    ...(drain.sent === 0 ? {} : { sent: drain.sent }),
    ...droppedSoFar(drain.dropped),
    ...(drain.buffered === 0 ? {} : { buffered: drain.buffered }),
    ...(drain.disk_bytes === undefined ? {} : { disk_bytes: drain.disk_bytes, disk_events: drain.disk_events }),
    ...(drain.builtin === undefined ? {} : { builtin: drain.builtin }),
  };
}

/** `{dropped}` with the reasons above 0, or nothing when there is none. */
function droppedSoFar(dropped: DrainState['dropped']): { dropped?: DrainState['dropped'] } {
  let some: DrainState['dropped'] | undefined;
  for (const reason in dropped) if (dropped[reason] !== 0) (some ??= {})[reason] = dropped[reason];
  return some ? { dropped: some } : {};
}

/** Its own copy: a caller may hand the same objects again with counters changed in place. */
function copyDrainState(drain: DrainState): DrainState {
  return { ...drain, dropped: { ...drain.dropped } };
}

function sameDrainState(a: DrainState, b: DrainState): boolean {
  if (
    a.state !== b.state ||
    a.sent !== b.sent ||
    a.buffered !== b.buffered ||
    a.error !== b.error ||
    a.disk_bytes !== b.disk_bytes ||
    a.disk_events !== b.disk_events ||
    a.builtin !== b.builtin
  ) {
    return false;
  }
  let reasons = 0;
  for (const reason in b.dropped) {
    if (a.dropped[reason] !== b.dropped[reason]) return false;
    reasons++;
  }
  for (const _ in a.dropped) reasons--;
  return reasons === 0;
}

/**
 * A node's status document as read back. One that cannot be read is undefined (its node rewrites it
 * at its next change), and a drain entry that cannot be read is left out, so that neither hides the rest.
 */
export function decodeNodeStatus(nodeId: string, text: string | undefined): NodeStatus | undefined {
  const data = parseJsonObject(text);
  if (!data || !isJsonObject(data.drains)) return undefined;
  // A loop, not entries/fromEntries: `drain status` decodes 100 documents of 1,000 drains.
  const drains: Record<string, DrainState> = {};
  for (const name in data.drains) {
    if (!Object.prototype.hasOwnProperty.call(data.drains, name)) continue;
    const state = drainStateFrom(data.drains[name]);
    if (state === undefined) continue;
    // Defined, not assigned: a drain named __proto__ stays a drain.
    if (name === '__proto__') Object.defineProperty(drains, name, { value: state, enumerable: true, writable: true, configurable: true });
    else drains[name] = state;
  }
  const live = nodeLiveFrom(data.live);
  return {
    node_id: nodeId,
    updated: typeof data.updated === 'number' ? data.updated : 0,
    drains,
    ...(live ? { live } : {}),
  };
}

/**
 * The rows of `drain status`: one per drain per node, sorted by drain, then node. Grouped by drain
 * with the nodes in order, then the drains sorted: 100 nodes of 1,000 drains sort 100 nodes and
 * 1,000 names, not 100,000 rows.
 */
export function drainStatusRows(nodes: readonly NodeStatus[]): NodeDrainStatus[] {
  const byDrain = new Map<string, NodeDrainStatus[]>();
  for (const node of [...nodes].sort((a, b) => compare(a.node_id, b.node_id))) {
    for (const drain in node.drains) {
      if (!Object.prototype.hasOwnProperty.call(node.drains, drain)) continue;
      let rows = byDrain.get(drain);
      if (rows === undefined) byDrain.set(drain, (rows = []));
      rows.push(statusRow(drain, node, node.drains[drain]));
    }
  }
  return [...byDrain.keys()].sort(compare).flatMap((drain) => byDrain.get(drain)!);
}

/** `{drain, node_id, ...state, updated}`, field by field: a spread of 100,000 entries took a tenth of `drain status`. */
function statusRow(drain: string, node: NodeStatus, s: DrainState): NodeDrainStatus {
  const { node_id, updated } = node;
  // Drains with disk= and built-in ones (a few per node) take the general way.
  if (s.disk_bytes !== undefined || s.disk_events !== undefined || s.builtin !== undefined) return { drain, node_id, ...s, updated };
  return s.error === undefined
    ? { drain, node_id, state: s.state, sent: s.sent, dropped: s.dropped, buffered: s.buffered, updated }
    : { drain, node_id, state: s.state, error: s.error, sent: s.sent, dropped: s.dropped, buffered: s.buffered, updated };
}

/** The node a store is registered as, for writing its status: a status lives under its node's entry. */
export function assertRegisteredAs(registered: string | undefined, nodeId: string, description: string): void {
  if (registered === nodeId) return;
  throw new StoreError(`${description}: node ${nodeId} must be registered before its status is written`);
}

function drainStateFrom(value: unknown): DrainState | undefined {
  // No state: RUNNING (left out when written); a state that is not a string cannot be read.
  if (!isJsonObject(value) || (value.state !== undefined && typeof value.state !== 'string')) return undefined;
  const dropped = isJsonObject(value.dropped) ? Object.fromEntries(Object.entries(value.dropped).map(([reason, n]) => [reason, countFrom(n)])) : {};
  // Fields in the order of the rows `drain status --json` prints; no spreads (100,000 entries).
  const stateName = value.state ?? 'RUNNING';
  const sent = countFrom(value.sent);
  const buffered = countFrom(value.buffered);
  const state: DrainState =
    typeof value.error === 'string' ? { state: stateName, error: value.error, sent, dropped, buffered } : { state: stateName, sent, dropped, buffered };
  if (typeof value.disk_bytes === 'number') {
    state.disk_bytes = countFrom(value.disk_bytes);
    state.disk_events = countFrom(value.disk_events);
  }
  if (value.builtin === true) state.builtin = true;
  return state;
}

function countFrom(n: unknown): number {
  return typeof n === 'number' && Number.isFinite(n) ? n : 0;
}
