import { humanTime, nowUnix } from './time.js';

/** An event as it travels: one JSON object with at least these fields (docs/drains.md, keys and filters). */
export interface LogEvent {
  text: string;
  node_id: string;
  unix_time: number;
  human_time: string;
  [field: string]: unknown;
}

/** The JSON of an event with only text and the stamped fields; the fast path of publishers. */
export function textEventJson(text: string, nodeId: string, unixTime?: number): string {
  return '{"text":' + jsonString(text) + (unixTime === undefined ? stampNow(nodeId) : stampMembers(nodeId, unixTime) + '}');
}

/** What JSON.stringify must escape in a string: quote, backslash, control characters, surrogates (when lone). */
const NEEDS_ESCAPE = /["\\\x00-\x1f\ud800-\udfff]/;

/**
 * JSON.stringify of a string, without its copy of the characters for the usual log line that
 * has nothing to escape (the quotes are joined on instead, and the copy happens once, in the batch).
 */
export function jsonString(s: string): string {
  return NEEDS_ESCAPE.test(s) ? JSON.stringify(s) : '"' + s + '"';
}

/** Whether JSON.stringify(s) is more than `s` between quotes. */
export function needsJsonEscape(s: string): boolean {
  return NEEDS_ESCAPE.test(s);
}

/** What stands between the quotes of JSON.stringify(s): for joining a string into JSON text around it. */
export function jsonStringContent(s: string): string {
  return NEEDS_ESCAPE.test(s) ? JSON.stringify(s).slice(1, -1) : s;
}

// The stamped members of an event are the same for every event of one millisecond and node:
// build them once per millisecond instead of formatting numbers and times per event.
let stampMs = -1;
let stampNode = '';
let stampNowMembers = '';
let stampTail = '';
let stampTextTail: Buffer = Buffer.alloc(0);

function stampNow(nodeId: string): string {
  if (Date.now() !== stampMs || nodeId !== stampNode) restamp(nodeId);
  return stampTail;
}

/**
 * `,"node_id":...,"unix_time":...,"human_time":"..."` of an event stamped now, without the
 * closing brace, for events with more members after these. The same string for a millisecond,
 * so a caller can keep what it joins onto it until it changes.
 */
export function stampedMembersNow(nodeId: string): string {
  if (Date.now() !== stampMs || nodeId !== stampNode) restamp(nodeId);
  return stampNowMembers;
}

/**
 * The bytes that end the event of a text published now, after the text itself: the closing quote
 * of `text`, the stamped members and the closing brace (the same for a millisecond).
 */
export function stampedTextTailNow(nodeId: string): Buffer {
  if (Date.now() !== stampMs || nodeId !== stampNode) restamp(nodeId);
  return stampTextTail;
}

function restamp(nodeId: string): void {
  const ms = Date.now();
  stampNowMembers = stampMembers(nodeId, ms / 1000);
  stampTail = stampNowMembers + '}';
  stampTextTail = Buffer.from('"' + stampTail);
  stampMs = ms;
  stampNode = nodeId;
}

function stampMembers(nodeId: string, unixTime: number): string {
  return `,"node_id":${JSON.stringify(nodeId)},"unix_time":${unixTime},"human_time":"${humanTime(unixTime)}"`;
}

/**
 * The JSON of `fields` with node_id, unix_time and human_time added where the caller left
 * them out. The caller's object is not modified.
 * Returns null when the object has no string `text` of its own that JSON.stringify writes, or
 * cannot be serialized, or is not written as an object (an array, or one with its own toJSON):
 * what this returns is always one JSON object, and batches of it say so (bus wire.ts, " j").
 */
export function eventJson(fields: Record<string, unknown>, nodeId: string): string | null {
  if (typeof fields.text !== 'string' || !Object.prototype.propertyIsEnumerable.call(fields, 'text')) return null;
  if (Array.isArray(fields) || typeof (fields as { toJSON?: unknown }).toJSON === 'function') return null;
  let json: string;
  try {
    json = JSON.stringify(fields);
  } catch {
    return null;
  }
  let extra = '';
  let unixTime = fields.unix_time;
  if (fields.node_id === undefined) extra += `,"node_id":${JSON.stringify(nodeId)}`;
  if (unixTime === undefined) {
    unixTime = nowUnix();
    extra += `,"unix_time":${unixTime}`;
  }
  if (fields.human_time === undefined) {
    const t = typeof unixTime === 'number' ? unixTime : nowUnix();
    extra += `,"human_time":"${humanTime(t)}"`;
  }
  return extra ? json.slice(0, -1) + extra + '}' : json;
}

/** A notice event (key `logyard.notice`), used for in-band drop reports. */
export function noticeJson(text: string, nodeId: string, extra: Record<string, unknown> = {}): string {
  const t = nowUnix();
  return JSON.stringify({ text, node_id: nodeId, unix_time: t, human_time: humanTime(t), ...extra });
}

export const NOTICE_KEY = 'logyard.notice';

/** The largest event in bytes, unless the config's max_event says otherwise (docs/configuration.md, max_event). */
export const DEFAULT_MAX_EVENT = 1024 * 1024;
