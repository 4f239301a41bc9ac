import { isJsonObject } from './json.js';
import type { DrainRates, KeyRate, NodeLive } from './types.js';

/**
 * The `live` part of a node's status document as read back: what cannot be read is left out or
 * zero, so that a document from another version or tool never hides the node's drains.
 */
export function nodeLiveFrom(value: unknown): NodeLive | undefined {
  if (!isJsonObject(value)) return undefined;
  const keys = Array.isArray(value.keys) ? value.keys.map(keyRateFrom).filter((k) => k !== undefined) : [];
  const other = keyRateFrom(value.other);
  const clients = Array.isArray(value.clients)
    ? value.clients.flatMap((c) => (isJsonObject(c) && typeof c.name === 'string' ? [{ name: c.name, running: c.running === true }] : []))
    : [];
  const drains = isJsonObject(value.drains)
    ? Object.fromEntries(Object.entries(value.drains).flatMap(([name, rates]) => (isJsonObject(rates) ? [[name, drainRatesFrom(rates)] as const] : [])))
    : {};
  return { in: count(value.in), in_per_s: count(value.in_per_s), clients, keys, ...(other ? { other } : {}), drains };
}

function keyRateFrom(value: unknown): KeyRate | undefined {
  if (!isJsonObject(value) || typeof value.key !== 'string') return undefined;
  return { key: value.key, events_per_s: count(value.events_per_s), events_10m: count(value.events_10m), last_seen: count(value.last_seen) };
}

function drainRatesFrom(value: Record<string, unknown>): DrainRates {
  const dropped = isJsonObject(value.dropped_per_s) ? value.dropped_per_s : {};
  return {
    out_per_s: count(value.out_per_s),
    dropped_per_s: Object.fromEntries(Object.entries(dropped).map(([reason, n]) => [reason, count(n)])),
  };
}

function count(n: unknown): number {
  return typeof n === 'number' && Number.isFinite(n) && n >= 0 ? n : 0;
}
