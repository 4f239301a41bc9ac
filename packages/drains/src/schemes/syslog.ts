import { NOTICE_KEY } from '@logyard/bus';
import { compileFormat, type EventReader, type LineFrame } from '../formats.js';
import type { Scheme } from '../scheme.js';
import { connectStream } from '../stream.js';

/**
 * MSG is the event's text by default: Heroku and Papertrail show MSG as the log line and take
 * time, host and program from the header, so the JSON of the event would only repeat them.
 */
export const SYSLOG_DEFAULT_FORMAT = '{{text}}';

/**
 * `syslog` (and `syslog+tls`, RFC 5425's port 6514): RFC 5424 messages with octet-counted framing
 * (RFC 6587), written to the stream like tcp's lines.
 */
export const syslog: Scheme = {
  syntax: { target: 'network', defaultPort: 514, tlsDefaultPort: 6514, defaultFormat: SYSLOG_DEFAULT_FORMAT, params: {} },
  connect: connectStream,
  output: (format, formats, drainToken) => compileFormat(format, formats, drainToken === undefined ? SYSLOG_FRAME : tokenFrame(drainToken)),
};

/** The SD-ID of Logyard's own structured data (32473: the example enterprise number of RFC 5612). */
const LOGYARD_SD_ID = 'logyard@32473';

/** A tenant drain's frame: its token as `[logyard@32473 drain="d.<uuid>"]`, beside the relayed structured data. */
function tokenFrame(drainToken: string): LineFrame {
  const element = `[${LOGYARD_SD_ID} drain="${drainToken.replace(/["\\\]]/g, '\\$&')}"]`;
  return { fields: HEADER_FIELDS, build: (key, line, event) => frame(syslogMessage(key, event, line, element)) };
}

/** The event's fields the header is made of, read in the same pass as the format's. */
const HEADER_FIELDS = ['syslog', 'node_id', 'human_time', 'unix_time', 'app_name', 'name', 'instance_index', 'type', 'severity'] as const;
const [SYSLOG, NODE_ID, HUMAN_TIME, UNIX_TIME, APP_NAME, NAME, INSTANCE_INDEX, TYPE, SEVERITY] = HEADER_FIELDS.map((_, i) => i);

const SYSLOG_FRAME: LineFrame = {
  fields: HEADER_FIELDS,
  build: (key, line, event) => frame(syslogMessage(key, event, line)),
};

/** RFC 6587 octet counting: `MSG-LEN SP SYSLOG-MSG`, the length in bytes. Newlines inside are fine. */
function frame(message: string): string {
  return `${Buffer.byteLength(message)} ${message}`;
}

// RFC 5424 section 6: field limits, in PRINTUSASCII characters.
const MAX_HOSTNAME = 255;
const MAX_APP_NAME = 48;
const MAX_PROCID = 128;
const MAX_MSGID = 32;
const NILVALUE = '-';

const FACILITIES: Record<string, number> = {
  kern: 0, user: 1, mail: 2, daemon: 3, auth: 4, syslog: 5, lpr: 6, news: 7, uucp: 8, cron: 9,
  authpriv: 10, ftp: 11, ntp: 12, security: 13, audit: 13, console: 14, alert: 14, clock: 15, 'solaris-cron': 15,
  local0: 16, local1: 17, local2: 18, local3: 19, local4: 20, local5: 21, local6: 22, local7: 23,
};
const SEVERITIES: Record<string, number> = {
  emerg: 0, emergency: 0, panic: 0, alert: 1, crit: 2, critical: 2, err: 3, error: 3,
  warning: 4, warn: 4, notice: 5, info: 6, informational: 6, debug: 7,
};
const USER = FACILITIES.user;
const INFO = SEVERITIES.info;
const WARNING = SEVERITIES.warning;

/**
 * One RFC 5424 message (without framing) for an event, as a relay such as rsyslog forwards one:
 * - PRI: the event's `syslog.facility`/`syslog.severity` (numbers or names) when it came in as
 *   syslog; else facility user, severity from the `severity` of event.* (ERROR, WARNING, INFO),
 *   warning for logyard's own drop notices, info otherwise;
 * - TIMESTAMP: `human_time` when it is an RFC 5424 timestamp, else from `unix_time` (UTC);
 * - HOSTNAME: the sender's (`syslog.hostname`) when the event came in as syslog, else `node_id`;
 *   APP-NAME: `syslog.appname`, `app_name` (apptail), `name` (systail) or else the key; PROCID:
 *   `syslog.procid` or `instance_index`; MSGID: `syslog.msgid` or `type` (event.*); each cut to
 *   printable ASCII within the RFC's limits, `-` when absent;
 * - STRUCTURED-DATA: the sender's (`syslog.structured_data`), else `-`;
 * - MSG is the drain's formatted line without its final newline, in UTF-8 without a BOM (which
 *   most receivers, Papertrail included, would show as garbage).
 */
function syslogMessage(key: string, event: EventReader, line: string, ownElement = ''): string {
  const syslog = objectOrUndefined(event.field(SYSLOG));
  const facility = code(syslog?.facility, FACILITIES, 23) ?? USER;
  const severity = code(syslog?.severity, SEVERITIES, 7) ?? defaultSeverity(key, event);
  const header = [
    `<${facility * 8 + severity}>1`,
    timestamp(event),
    field(firstGiven(syslog?.hostname, event.field(NODE_ID)), MAX_HOSTNAME),
    field(firstGiven(syslog?.appname, event.field(APP_NAME), event.field(NAME), key), MAX_APP_NAME),
    field(firstGiven(syslog?.procid, event.field(INSTANCE_INDEX)), MAX_PROCID),
    field(firstGiven(syslog?.msgid, key.startsWith('event.') ? event.field(TYPE) : undefined), MAX_MSGID),
    withOwnElement(structuredData(syslog?.structured_data), ownElement),
  ].join(' ');
  const msg = line.charCodeAt(line.length - 1) === 10 ? line.slice(0, -1) : line;
  return msg === '' ? header : `${header} ${msg}`;
}

/** SD-ID and PARAM-NAME (RFC 5424 SD-NAME): printable ASCII but `=`, `]` and `"`, at most 32. */
const SD_NAME_RE = /^[\x21\x23-\x3c\x3e-\x5c\x5e-\x7e]{1,32}$/;

/**
 * STRUCTURED-DATA from `{SD-ID: {PARAM: value}}` as receive stores it; elements and params whose
 * names RFC 5424 would not allow are left out (the rest still goes), values escaped as it says.
 */
function structuredData(value: unknown): string {
  const elements = objectOrUndefined(value);
  if (!elements) return NILVALUE;
  let out = '';
  for (const [id, params] of Object.entries(elements)) {
    const fields = objectOrUndefined(params);
    // A sender's own logyard@32473 would pass for ours.
    if (!SD_NAME_RE.test(id) || !fields || id === LOGYARD_SD_ID) continue;
    out += '[' + id;
    for (const [name, paramValue] of Object.entries(fields)) {
      if (!SD_NAME_RE.test(name) || (typeof paramValue !== 'string' && typeof paramValue !== 'number')) continue;
      out += ` ${name}="${String(paramValue).replace(/["\\\]]/g, '\\$&')}"`;
    }
    out += ']';
  }
  return out === '' ? NILVALUE : out;
}

/** The relayed structured data with Logyard's own element after it (a sender's logyard@32473 is replaced). */
function withOwnElement(relayed: string, own: string): string {
  if (own === '') return relayed;
  return relayed === NILVALUE ? own : relayed + own;
}

function defaultSeverity(key: string, event: EventReader): number {
  if (key === NOTICE_KEY) return WARNING;
  if (key.startsWith('event.')) return code(event.field(SEVERITY), SEVERITIES, 7) ?? INFO;
  return INFO;
}

/** A facility or severity given as a number in range or as a name (any case); undefined otherwise. */
function code(value: unknown, names: Record<string, number>, max: number): number | undefined {
  if (typeof value === 'number') return Number.isInteger(value) && value >= 0 && value <= max ? value : undefined;
  if (typeof value !== 'string') return undefined;
  const name = value.toLowerCase();
  if (Object.hasOwn(names, name)) return names[name];
  return /^[0-9]{1,2}$/.test(value) && Number(value) <= max ? Number(value) : undefined;
}

/** RFC 5424 TIMESTAMP: RFC 3339 with at most 6 fraction digits and an upper-case T and Z. */
const TIMESTAMP_RE = /^[0-9]{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12][0-9]|3[01])T(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](?:\.[0-9]{1,6})?(?:Z|[+-](?:[01][0-9]|2[0-3]):[0-5][0-9])$/;
/** Dates Date can print as a four-digit year: 0000-01-01 up to 9999-12-31, in seconds. */
const MIN_UNIX = -62_167_219_200;
const MAX_UNIX = 253_402_300_799;

function timestamp(event: EventReader): string {
  const human = event.field(HUMAN_TIME);
  if (typeof human === 'string' && TIMESTAMP_RE.test(human)) return human;
  const unix = event.field(UNIX_TIME);
  if (typeof unix === 'number' && unix >= MIN_UNIX && unix <= MAX_UNIX) return new Date(Math.floor(unix * 1000)).toISOString();
  return NILVALUE;
}

/** The first value that is a non-empty string or a number. */
function firstGiven(...values: unknown[]): unknown {
  return values.find((value) => (typeof value === 'string' && value !== '') || typeof value === 'number');
}

/** A header field: printable ASCII (others become `_`), at most `max` characters, `-` when empty. */
function field(value: unknown, max: number): string {
  if (typeof value !== 'string' && typeof value !== 'number') return NILVALUE;
  const text = String(value).slice(0, max).replace(/[^\x21-\x7e]/g, '_');
  return text === '' ? NILVALUE : text;
}

function objectOrUndefined(value: unknown): Record<string, unknown> | undefined {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
}
