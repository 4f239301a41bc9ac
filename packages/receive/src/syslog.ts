/**
 * Parsers of syslog messages: RFC 5424 and RFC 3164 (BSD), including the forms Docker's syslog
 * driver and glibc's syslog() send. They never throw: a message is either parsed or refused
 * with a reason that the receiver counts. This file reads the PRI and chooses the parser.
 */
import { parse3164 } from './rfc3164.js';
import { parse5424 } from './rfc5424.js';
import { trimmedEnd } from './text-bytes.js';

export type StructuredData = Record<string, Record<string, string>>;

export interface SyslogMessage {
  facility: number;
  severity: number;
  /** The sender's own timestamp as it was written (RFC 3339, or `Mmm dd hh:mm:ss` in RFC 3164); null when absent. */
  timestamp: string | null;
  hostname: string | null;
  /** RFC 5424 APP-NAME, or the RFC 3164 tag without its `[pid]` and colon. */
  appname: string | null;
  procid: string | null;
  msgid: string | null;
  /** RFC 5424 structured data by SD-ID; null when the message has none. */
  structuredData: StructuredData | null;
  text: string;
}

export type SyslogMalformedReason =
  | 'bad_priority'
  | 'bad_header'
  | 'bad_structured_data';

export interface SyslogProblem {
  malformed: SyslogMalformedReason;
  detail: string;
}

export type SyslogParseResult = SyslogMessage | SyslogProblem;

export function isSyslogProblem(r: SyslogParseResult): r is SyslogProblem {
  return (r as SyslogProblem).malformed !== undefined;
}

const LT = 60; // <
const GT = 62; // >
const ZERO = 48;
const NINE = 57;
const SP = 32;
const MAX_PRI = 191; // facility 23, severity 7

/** rsyslog's DEFUPRI: what a message without `<PRI>` gets (`user.notice`). */
const DEFAULT_FACILITY = 1;
const DEFAULT_SEVERITY = 5;

/**
 * Parses one syslog message (one frame, without framing). A message that does not start with a
 * PRI (`<` digits `>`) is kept, as rsyslog keeps it: `user.notice`, the rest read as RFC 3164
 * content. Such are the continuation lines of a multi-line message sent with newline framing.
 */
export function parseSyslog(line: string): SyslogParseResult {
  const end = trimmedEnd(line);
  if (line.charCodeAt(0) !== LT) return parse3164(line, 0, end, DEFAULT_FACILITY, DEFAULT_SEVERITY);
  let pri = 0;
  let i = 1;
  while (i < end && isDigit(line.charCodeAt(i))) {
    pri = pri * 10 + (line.charCodeAt(i) - ZERO);
    i++;
  }
  if (i === 1 || line.charCodeAt(i) !== GT) return parse3164(line, 0, end, DEFAULT_FACILITY, DEFAULT_SEVERITY);
  // A PRI, but not one of a facility and severity: a broken sender, not text.
  if (i > 4 || pri > MAX_PRI) return { malformed: 'bad_priority', detail: `PRI <${line.slice(1, Math.min(i, 12))}${i > 12 ? '...' : ''}> is not <0> to <191>` };
  i++;
  const facility = pri >> 3;
  const severity = pri & 7;
  // RFC 5424 says VERSION right after PRI: a non-zero digit and at most two more, then a space.
  const c0 = line.charCodeAt(i);
  if (c0 > ZERO && c0 <= NINE) {
    let j = i + 1;
    while (j < i + 3 && isDigit(line.charCodeAt(j))) j++;
    if (line.charCodeAt(j) === SP) return parse5424(line, j + 1, end, facility, severity);
  }
  // Go's DefaultFormatter writes "<30> 2024-..." with a space after PRI.
  if (c0 === SP) i++;
  return parse3164(line, i, end, facility, severity);
}

function isDigit(c: number): boolean {
  return c >= ZERO && c <= NINE;
}
