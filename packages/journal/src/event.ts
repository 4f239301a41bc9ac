import { keyWithName, SEVERITY_NAMES } from '@logyard/bus';
import { fieldValue, firstValue, textValue, type FieldValue, type JournalEntry } from './entry.js';

/** What an entry becomes (docs/clients.md, journal). */
export interface JournalEvent {
  /** `journal.<stream>`, the stream name made a key segment. */
  key: string;
  /** The name the key is made of, as the entry has it: container name, unit without .service, or identifier. */
  stream: string;
  /** The entry's unit (`nginx.service`), when it has one. */
  unit: string | undefined;
  fields: Record<string, unknown>;
}

/** Fields that become the event's own fields, so they are not repeated under `journal`. */
const TOP_LEVEL_FIELDS = new Set(['MESSAGE', 'PRIORITY', 'CONTAINER_NAME', 'CONTAINER_ID']);

/**
 * The stream an entry belongs to: the container for Docker's journald driver (CONTAINER_NAME),
 * else its systemd unit without `.service`, else its SYSLOG_IDENTIFIER (the kernel, a program
 * using syslog() outside any unit), else its command name.
 */
export function streamName(entry: JournalEntry): { stream: string; unit: string | undefined } {
  const unit = textValue(entry._SYSTEMD_UNIT);
  const stream =
    textValue(entry.CONTAINER_NAME) ??
    (unit === undefined ? undefined : unit.endsWith('.service') ? unit.slice(0, -'.service'.length) : unit) ??
    textValue(entry.SYSLOG_IDENTIFIER) ??
    textValue(entry._COMM) ??
    '';
  return { stream, unit };
}

/**
 * The event of one entry: `text` (MESSAGE; base64 with `text_encoding` when it is not text),
 * `severity` (PRIORITY by name), `unit`, `pid`, `container_name`/`container_id`, `journal` (the
 * other user fields) and `trusted` (the `_` fields journald adds itself), at the entry's own time.
 * Address fields (`__CURSOR`, `__REALTIME_TIMESTAMP`, ...) are left out.
 */
export function entryEvent(entry: JournalEntry): JournalEvent {
  const { stream, unit } = streamName(entry);
  const fields: Record<string, unknown> = {};
  const message = firstValue(entry.MESSAGE) ?? '';
  if (typeof message === 'string') {
    fields.text = message;
  } else {
    fields.text = message.base64;
    fields.text_encoding = 'base64';
  }
  const priority = textValue(entry.PRIORITY);
  if (priority !== undefined && /^[0-7]$/.test(priority)) fields.severity = SEVERITY_NAMES[Number(priority)];
  if (unit !== undefined) fields.unit = unit;
  const pid = textValue(entry._PID) ?? textValue(entry.SYSLOG_PID);
  if (pid !== undefined && /^[1-9]\d{0,9}$/.test(pid)) fields.pid = Number(pid);
  const containerName = textValue(entry.CONTAINER_NAME);
  const containerId = textValue(entry.CONTAINER_ID);
  if (containerName !== undefined) fields.container_name = containerName;
  if (containerId !== undefined) fields.container_id = containerId;

  const journal: Record<string, FieldValue | FieldValue[]> = {};
  const trusted: Record<string, FieldValue | FieldValue[]> = {};
  for (const name in entry) {
    if (name.startsWith('__') || TOP_LEVEL_FIELDS.has(name)) continue;
    const value = fieldValue(entry[name]);
    if (value === undefined) continue;
    if (name.startsWith('_')) trusted[name] = value;
    else journal[name] = value;
  }
  fields.journal = journal;
  fields.trusted = trusted;
  const unixTime = microseconds(textValue(entry._SOURCE_REALTIME_TIMESTAMP)) ?? microseconds(textValue(entry.__REALTIME_TIMESTAMP));
  if (unixTime !== undefined) fields.unix_time = unixTime;
  return { key: keyWithName('journal', stream), stream, unit, fields };
}

/** Seconds from a journal timestamp (microseconds since the epoch, as text). */
function microseconds(value: string | undefined): number | undefined {
  if (value === undefined || !/^\d{1,17}$/.test(value)) return undefined;
  return Number(value) / 1e6;
}
