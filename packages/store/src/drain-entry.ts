import { drainNameProblem, isBuiltinDrainName, nowUnix } from '@logyard/bus';
import { readJsonObject } from './json.js';
import type { DrainRecord } from './types.js';

/** A drain entry as read by either store: the drain, and the entry's other fields for the backend's own use. */
export interface DrainEntry {
  record: DrainRecord;
  /** The stored object, when the value is one (the file store keeps `expires` there). */
  fields?: Record<string, unknown>;
}

/**
 * Reads a drain's stored entry (docs/store.md); the one validation of both stores. `key` names the
 * entry in problems (`/logyard/drains/web`, `drains/web.json`). An admin's own tooling may write
 * just `{"uri": ...}`: `created` is taken when it is a number (unix seconds) or a string holding one
 * or a date, and otherwise left out, since nothing a drain does depends on it. An entry that cannot
 * be run is still returned, with a `problem` that starts with its key (and with its URI when it has
 * one), so that one bad entry neither hides nor breaks the others.
 */
export function readDrainEntry(name: string, key: string, text: string, temporary = false): DrainEntry {
  const reading = readJsonObject(text);
  const fields = 'object' in reading ? reading.object : undefined;
  const uri = typeof fields?.uri === 'string' ? fields.uri : '';
  const created = createdTime(fields?.created);
  const token = typeof fields?.token === 'string' ? fields.token : undefined;
  const record: DrainRecord = {
    name,
    uri,
    ...(created === undefined ? {} : { created }),
    ...(temporary ? { temporary: true } : {}),
    ...(token === undefined ? {} : { token }),
  };
  const problem = usableNameProblem(name) ?? ('problem' in reading ? reading.problem : uri === '' ? '"uri" must be a non-empty string' : undefined);
  if (problem !== undefined) record.problem = `${key}: ${problem}`;
  return { record, fields };
}

/** Why a stored entry's name cannot name a drain of the store (bad characters, builtin.*), or undefined. */
export function usableNameProblem(name: string): string | undefined {
  if (isBuiltinDrainName(name)) return 'builtin.* drains are defined by the config file, not the store';
  return drainNameProblem(name) ?? undefined;
}

/** Unix seconds from a number, a numeric string or a date string; undefined for anything else. */
function createdTime(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) ? value : undefined;
  if (typeof value !== 'string' || value.trim() === '') return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return seconds;
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? undefined : ms / 1000;
}

/** A drain's stored value: `{"uri", "created"}`, with the drain token of a tenant's drain. */
export function drainValue(uri: string, token: string | undefined, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { uri, created: nowUnix(), ...(token === undefined ? {} : { token }), ...extra };
}
