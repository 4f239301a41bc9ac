import { humanTime, nowUnix } from './time.js';

/** An event as it travels: one JSON object with at least these fields (SPEC section 1). */
export interface LogEvent {
  text: string;
  node_id: string;
  unix_time: number;
  human_time: string;
  [field: string]: unknown;
}

/** The JSON of an event with only text and the stamped fields; the fast path of publishers. */
export function textEventJson(text: string, nodeId: string, unixTime?: number): string {
  return '{"text":' + JSON.stringify(text) + (unixTime === undefined ? stampNow(nodeId) : stamp(nodeId, unixTime));
}

// The stamped tail of an event is the same for every event of one millisecond and node:
// build it once per millisecond instead of formatting numbers and times per event.
let stampMs = -1;
let stampNode = '';
let stampTail = '';

function stampNow(nodeId: string): string {
  const ms = Date.now();
  if (ms !== stampMs || nodeId !== stampNode) {
    stampTail = stamp(nodeId, ms / 1000);
    stampMs = ms;
    stampNode = nodeId;
  }
  return stampTail;
}

function stamp(nodeId: string, unixTime: number): string {
  return `,"node_id":${JSON.stringify(nodeId)},"unix_time":${unixTime},"human_time":"${humanTime(unixTime)}"}`;
}

/**
 * The JSON of `fields` with node_id, unix_time and human_time added where the caller left
 * them out. The caller's object is not modified.
 * Returns null when the object has no string `text` or cannot be serialized.
 */
export function eventJson(fields: Record<string, unknown>, nodeId: string): string | null {
  if (typeof fields.text !== 'string') return null;
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
