/** What a parsed syslog message becomes on the bus: its key and its `syslog` field. */
import { keyWithName, SEVERITY_NAMES } from '@logyard/bus';
import type { SyslogMessage } from './syslog.js';

/** Facility names as rsyslog (`syslogfacility-text`) and Vector print them. */
export const FACILITY_NAMES = [
  'kern', 'user', 'mail', 'daemon', 'auth', 'syslog', 'lpr', 'news',
  'uucp', 'cron', 'authpriv', 'ftp', 'ntp', 'security', 'console', 'solaris-cron',
  'local0', 'local1', 'local2', 'local3', 'local4', 'local5', 'local6', 'local7',
] as const;

export { SEVERITY_NAMES };

/**
 * The event key of a message: `syslog.<appname>`, the app name made into one key segment
 * (anything outside [A-Za-z0-9_:-], dots included, becomes "_") and cut so the key fits in
 * 255 bytes. A message without app name or tag goes to `syslog.unknown`.
 */
export function syslogKey(appname: string | null): string {
  return keyWithName('syslog', appname);
}

/**
 * The `syslog` field of an event: facility and severity as names (rsyslog's and Vector's
 * `-text` names), the header fields (null when absent or NILVALUE), the sender's timestamp,
 * and `structured_data` by SD-ID when the message has some.
 */
export function syslogFieldJson(m: SyslogMessage): string {
  return (
    '{"facility":"' + FACILITY_NAMES[m.facility] +
    '","severity":"' + SEVERITY_NAMES[m.severity] +
    '","hostname":' + jsonOrNull(m.hostname) +
    ',"appname":' + jsonOrNull(m.appname) +
    ',"procid":' + jsonOrNull(m.procid) +
    ',"msgid":' + jsonOrNull(m.msgid) +
    ',"timestamp":' + jsonOrNull(m.timestamp) +
    (m.structuredData ? ',"structured_data":' + JSON.stringify(m.structuredData) : '') +
    '}'
  );
}

function jsonOrNull(s: string | null): string {
  return s === null ? 'null' : JSON.stringify(s);
}
