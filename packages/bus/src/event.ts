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
export function textEventJson(text: string, nodeId: string, unixTime = nowUnix()): string {
  return `{"text":${JSON.stringify(text)},"node_id":${JSON.stringify(nodeId)},"unix_time":${unixTime},"human_time":"${humanTime(unixTime)}"}`;
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
