import { NOTICE_KEY } from '@logyard/bus';
import { parseEventObject } from '../formats.js';
import type { OutBatch, Transport, TransportFactory } from '../transport.js';
import type { SchemeSyntax } from '../uri.js';
import { connectTcp } from './tcp.js';
import { connectTls, TLS_PARAMS, tlsParamsProblem } from './tls.js';

/**
 * MSG is the event's text by default: Heroku and Papertrail show MSG as the log line and take
 * time, host and program from the header, so the JSON of the event would only repeat them.
 */
export const SYSLOG_DEFAULT_FORMAT = '{{text}}';

export const SYSLOG_SYNTAX: SchemeSyntax = { target: 'network', defaultPort: 514, defaultFormat: SYSLOG_DEFAULT_FORMAT, params: {} };

/** RFC 5425 assigns 6514 to syslog over TLS. */
export const SYSLOG_TLS_SYNTAX: SchemeSyntax = {
  target: 'network',
  defaultPort: 6514,
  defaultFormat: SYSLOG_DEFAULT_FORMAT,
  params: TLS_PARAMS,
  check: tlsParamsProblem,
};

/** RFC 5424 syslog messages with octet-counted framing (RFC 6587) over TCP, or TLS for syslog+tls. */
export const connectSyslog: TransportFactory = async (spec, ctx) => {
  const stream = spec.scheme === 'syslog+tls' ? await connectTls(spec, ctx) : await connectTcp(spec, ctx);
  return new SyslogTransport(stream);
};

/** Turns each line into a framed syslog message, then writes them like tcp does. */
class SyslogTransport implements Transport {
  constructor(private readonly stream: Transport) {}

  send(batch: OutBatch): Promise<void> {
    const frames = batch.lines.map((line, i) => frameSyslog(batch.keys[i], batch.jsons[i], line));
    return this.stream.send({ keys: batch.keys, jsons: batch.jsons, lines: frames });
  }

  onBroken(cb: (err: Error) => void): void {
    this.stream.onBroken(cb);
  }

  close(): Promise<void> {
    return this.stream.close();
  }
}

/** RFC 6587 octet counting: `MSG-LEN SP SYSLOG-MSG`, the length in bytes. Newlines inside are fine. */
export function frameSyslog(key: string, json: string, line: string): string {
  const message = syslogMessage(key, json, line);
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
 * One RFC 5424 message (without framing) for an event:
 * - PRI: the event's `syslog.facility`/`syslog.severity` (numbers or names) when it came in as
 *   syslog; else facility user, severity from the `severity` of event.* (ERROR, WARNING, INFO),
 *   warning for logyard's own drop notices, info otherwise;
 * - TIMESTAMP: `human_time` when it is an RFC 5424 timestamp, else from `unix_time` (UTC);
 * - HOSTNAME: `node_id`; APP-NAME: `syslog.appname`, `app_name` (apptail), `name` (systail) or
 *   else the key; PROCID: `syslog.procid` or `instance_index`; MSGID: `syslog.msgid` or `type`
 *   (event.*); each cut to printable ASCII within the RFC's limits, `-` when absent;
 * - no STRUCTURED-DATA, and MSG is the drain's formatted line without its final newline, in
 *   UTF-8 without a BOM (which most receivers, Papertrail included, would show as garbage).
 */
export function syslogMessage(key: string, json: string, line: string): string {
  const event = parseEventObject(json);
  const syslog = objectField(event, 'syslog');
  const facility = code(syslog?.facility, FACILITIES, 23) ?? USER;
  const severity = code(syslog?.severity, SEVERITIES, 7) ?? defaultSeverity(key, event);
  const header = [
    `<${facility * 8 + severity}>1`,
    timestamp(event),
    field(event?.node_id, MAX_HOSTNAME),
    field(firstGiven(syslog?.appname, event?.app_name, event?.name, key), MAX_APP_NAME),
    field(firstGiven(syslog?.procid, event?.instance_index), MAX_PROCID),
    field(firstGiven(syslog?.msgid, key.startsWith('event.') ? event?.type : undefined), MAX_MSGID),
    NILVALUE, // STRUCTURED-DATA
  ].join(' ');
  const msg = line.charCodeAt(line.length - 1) === 10 ? line.slice(0, -1) : line;
  return msg === '' ? header : `${header} ${msg}`;
}

function defaultSeverity(key: string, event: Record<string, unknown> | undefined): number {
  if (key === NOTICE_KEY) return WARNING;
  if (key.startsWith('event.')) return code(event?.severity, SEVERITIES, 7) ?? INFO;
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

function timestamp(event: Record<string, unknown> | undefined): string {
  const human = event?.human_time;
  if (typeof human === 'string' && TIMESTAMP_RE.test(human)) return human;
  const unix = event?.unix_time;
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

function objectField(event: Record<string, unknown> | undefined, name: string): Record<string, unknown> | undefined {
  const value = event?.[name];
  return isObject(value) ? value : undefined;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
