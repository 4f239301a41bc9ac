/** RFC 3164 (BSD) after `<PRI>`: timestamp, host and tag, as the many senders of it write them. */
import type { SyslogMessage } from './syslog.js';

const SP = 32;
const NINE = 57;

const MONTHS = 'JanFebMarAprMayJunJulAugSepOctNovDec';
/**
 * `Mmm dd hh:mm:ss` (day may be space-padded), optionally with fractions. Not with a year after
 * the time, as a few devices send: that cannot be told from a host named with four digits.
 */
const BSD_TIME_RE = /^[A-Z][a-z]{2} [ 0-3]\d \d\d:\d\d:\d\d(?:\.\d{1,9})?(?= |$)/;
/** RFC 3339, as Go's DefaultFormatter (and thus some Docker setups) writes into BSD lines. */
const ISO_TIME_RE = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{1,9})?(?:Z|[+-]\d\d:\d\d)(?= |$)/;
/** A host name or address: what may stand between the timestamp and the tag. */
const HOST_RE = /^[A-Za-z0-9][A-Za-z0-9._:%-]*$/;
/** The tag at the start of the content: `name[pid]:`, `name:` or `name[pid]`. */
const TAG_RE = /^([^\s[\]]+?)(?:\[([^\]\s]*)\])?:$|^([^\s[\]:]+)\[([^\]\s]*)\]$/;

export function parse3164(line: string, start: number, end: number, facility: number, severity: number): SyslogMessage {
  let i = start;
  let timestamp: string | null = null;
  const head = line.slice(i, Math.min(end, i + 40));
  const t = BSD_TIME_RE.exec(head) ?? ISO_TIME_RE.exec(head);
  if (t && (t[0].charCodeAt(0) > NINE ? MONTHS.includes(t[0].slice(0, 3)) : true)) {
    timestamp = t[0];
    i += t[0].length;
    while (line.charCodeAt(i) === SP) i++;
  }
  let hostname: string | null = null;
  let appname: string | null = null;
  let procid: string | null = null;
  // Without a timestamp there is no header (RFC 3164 4.3.3): the rest is content. With one, the
  // next word is the host unless it already looks like a tag (local senders omit the host).
  if (timestamp !== null) {
    const sp = line.indexOf(' ', i);
    if (sp > i && sp < end) {
      const word = line.slice(i, sp);
      if (HOST_RE.test(word) && !word.endsWith(':')) {
        hostname = word;
        i = sp + 1;
      }
    }
  }
  let sp = line.indexOf(' ', i);
  if (sp < 0 || sp > end) sp = end;
  if (sp > i) {
    const tag = TAG_RE.exec(line.slice(i, sp));
    if (tag) {
      appname = tag[1] ?? tag[3];
      procid = tag[2] ?? tag[4] ?? null;
      if (procid === '') procid = null;
      i = sp < end ? sp + 1 : end;
    }
  } else if (sp === i && line.charCodeAt(i) === 58 /* : */) {
    i++;
  }
  return {
    facility,
    severity,
    timestamp,
    hostname,
    appname,
    procid,
    msgid: null,
    structuredData: null,
    text: line.slice(i, end),
  };
}
