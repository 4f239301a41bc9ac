/**
 * Parsers of syslog messages: RFC 5424 and RFC 3164 (BSD), including the forms Docker's syslog
 * driver and glibc's syslog() send. They never throw: a message is either parsed or refused
 * with a reason that the receiver counts.
 */

/** Facility names as rsyslog (`syslogfacility-text`) and Vector print them. */
export const FACILITY_NAMES = [
  'kern', 'user', 'mail', 'daemon', 'auth', 'syslog', 'lpr', 'news',
  'uucp', 'cron', 'authpriv', 'ftp', 'ntp', 'security', 'console', 'solaris-cron',
  'local0', 'local1', 'local2', 'local3', 'local4', 'local5', 'local6', 'local7',
] as const;

/** Severity names as rsyslog (`syslogseverity-text`) and Vector print them. */
export const SEVERITY_NAMES = ['emerg', 'alert', 'crit', 'err', 'warning', 'notice', 'info', 'debug'] as const;

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
  | 'no_priority'
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
const SP = 32;
const ZERO = 48;
const NINE = 57;
const MAX_PRI = 191; // facility 23, severity 7

/** Parses one syslog message (one frame, without framing). */
export function parseSyslog(line: string): SyslogParseResult {
  const end = trimmedEnd(line);
  if (line.charCodeAt(0) !== LT) return { malformed: 'no_priority', detail: 'does not start with <PRI>' };
  let pri = 0;
  let i = 1;
  while (i < end && i <= 4) {
    const c = line.charCodeAt(i);
    if (c < ZERO || c > NINE) break;
    pri = pri * 10 + (c - ZERO);
    i++;
  }
  if (i === 1 || i > 4 || line.charCodeAt(i) !== GT) return { malformed: 'bad_priority', detail: 'PRI is not <0> to <191>' };
  if (pri > MAX_PRI) return { malformed: 'bad_priority', detail: `PRI ${pri} is above 191` };
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
  return parse3164(line, i, end, facility, severity);
}

function parse5424(line: string, start: number, end: number, facility: number, severity: number): SyslogParseResult {
  let i = start;
  const fields: Array<string | null> = [];
  // TIMESTAMP HOSTNAME APP-NAME PROCID MSGID, each "-" (NILVALUE) or printable ASCII.
  for (let f = 0; f < 5; f++) {
    if (i >= end) return { malformed: 'bad_header', detail: `RFC 5424 header ends after ${f} of 5 fields` };
    let sp = line.indexOf(' ', i);
    if (sp < 0 || sp > end) sp = end;
    if (sp === i) return { malformed: 'bad_header', detail: 'RFC 5424 header has an empty field (two spaces)' };
    const value = line.slice(i, sp);
    fields.push(value === '-' ? null : value);
    i = sp + 1;
  }
  if (i > end) return { malformed: 'bad_header', detail: 'RFC 5424 message ends before STRUCTURED-DATA' };
  let structuredData: StructuredData | null = null;
  if (line.charCodeAt(i) === 45 /* - */) {
    i++;
  } else if (line.charCodeAt(i) === 91 /* [ */) {
    const sd = parseStructuredData(line, i, end);
    if (typeof sd === 'string') return { malformed: 'bad_structured_data', detail: sd };
    structuredData = sd.data;
    i = sd.next;
  } else {
    return { malformed: 'bad_structured_data', detail: 'STRUCTURED-DATA is neither "-" nor [...]' };
  }
  let text = '';
  if (i < end) {
    if (line.charCodeAt(i) !== SP) return { malformed: 'bad_structured_data', detail: 'no space between STRUCTURED-DATA and MSG' };
    i++;
    // A UTF-8 MSG may start with a BOM (RFC 5424 section 6.4); it is not part of the text.
    if (line.charCodeAt(i) === 0xfeff) i++;
    text = line.slice(i, end);
  }
  return {
    facility,
    severity,
    timestamp: fields[0],
    hostname: fields[1],
    appname: fields[2],
    procid: fields[3],
    msgid: fields[4],
    structuredData,
    text,
  };
}

/** `[id param="value" ...]...` starting at `start`; an explanation string when it is malformed. */
function parseStructuredData(line: string, start: number, end: number): { data: StructuredData; next: number } | string {
  const data: StructuredData = Object.create(null) as StructuredData;
  let i = start;
  while (i < end && line.charCodeAt(i) === 91 /* [ */) {
    i++;
    const idEnd = scanName(line, i, end);
    if (idEnd === i) return 'an SD-ELEMENT has no SD-ID';
    const id = line.slice(i, idEnd);
    i = idEnd;
    const params: Record<string, string> = data[id] ?? (Object.create(null) as Record<string, string>);
    data[id] = params;
    for (;;) {
      const c = line.charCodeAt(i);
      if (c === 93 /* ] */) {
        i++;
        break;
      }
      if (c !== SP) return `SD-ELEMENT [${id} is not closed with "]"`;
      i++;
      const nameEnd = scanName(line, i, end);
      if (nameEnd === i) return `a PARAM of [${id}] has no name`;
      const name = line.slice(i, nameEnd);
      i = nameEnd;
      if (line.charCodeAt(i) !== 61 /* = */ || line.charCodeAt(i + 1) !== 34 /* " */) return `PARAM ${name} of [${id}] is not name="value"`;
      i += 2;
      let value = '';
      let from = i;
      for (;;) {
        if (i >= end) return `the value of ${name} in [${id}] is not closed with '"'`;
        const v = line.charCodeAt(i);
        if (v === 34) break;
        if (v === 92 /* \ */) {
          const next = line.charCodeAt(i + 1);
          // Only \", \\ and \] are escapes; any other backslash is kept as it is (RFC 5424 6.3.3).
          if (next === 34 || next === 92 || next === 93) {
            value += line.slice(from, i);
            from = i + 1;
            i += 2;
            continue;
          }
        }
        i++;
      }
      value += line.slice(from, i);
      i++;
      params[name] = value;
    }
  }
  return { data, next: i };
}

/** End of an SD-NAME: printable US-ASCII except '=', space, ']' and '"'. */
function scanName(line: string, i: number, end: number): number {
  while (i < end) {
    const c = line.charCodeAt(i);
    if (c <= SP || c > 126 || c === 61 || c === 93 || c === 34) break;
    i++;
  }
  return i;
}

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

function parse3164(line: string, start: number, end: number, facility: number, severity: number): SyslogMessage {
  let i = start;
  // Go's DefaultFormatter writes "<30> 2024-..." with a space after PRI.
  if (line.charCodeAt(i) === SP) i++;
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

function isDigit(c: number): boolean {
  return c >= ZERO && c <= NINE;
}

/** The length of `line` without trailing CR, LF and NUL (framing leftovers). */
function trimmedEnd(line: string): number {
  let end = line.length;
  for (;;) {
    const c = line.charCodeAt(end - 1);
    if (c === 10 || c === 13 || c === 0) end--;
    else return end;
  }
}

/**
 * The end of the text in `buf[start, end)`, without trailing CR, LF and NUL as `trimmedEnd`; -1
 * when the text has a byte JSON escapes (quote, backslash, control): such text takes the string
 * path. Other bytes pass unchanged into a JSON string once decoded: UTF-8 decoding never yields a
 * lone surrogate, the only other thing JSON.stringify escapes.
 */
export function plainTextEnd(buf: Buffer, start: number, end: number): number {
  while (end > start) {
    const c = buf[end - 1];
    if (c === 10 || c === 13 || c === 0) end--;
    else break;
  }
  if (buf !== wordsOf) {
    wordsOf = buf;
    words = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  }
  // Four bytes at a time (this loop ran over every byte of every line): a byte below 0x20, or
  // equal to '"' or '\\' (zero after the xor), sets the high bit of its lane in the test below.
  let i = start;
  for (; i + 4 <= end; i += 4) {
    const v = words.getUint32(i, true);
    const quote = v ^ 0x22222222;
    const backslash = v ^ 0x5c5c5c5c;
    if ((((v - 0x20202020) & ~v) | ((quote - 0x01010101) & ~quote) | ((backslash - 0x01010101) & ~backslash)) & 0x80808080) return -1;
  }
  for (; i < end; i++) {
    const c = buf[i];
    if (c < SP || c === 34 || c === 92) return -1;
  }
  return end;
}

/** The view plainTextEnd reads words through, kept for the buffer it was made for (a chunk has many lines). */
let wordsOf: Buffer | null = null;
let words: DataView<ArrayBufferLike> = new DataView(new ArrayBuffer(0));

const SEGMENT_BAD = /[^A-Za-z0-9_:-]/g;
const KEY_PREFIX = 'syslog.';
const MAX_KEY_BYTES = 255;

/**
 * The event key of a message: `syslog.<appname>`, the app name made into one key segment
 * (anything outside [A-Za-z0-9_:-], dots included, becomes "_") and cut so the key fits in
 * 255 bytes. A message without app name or tag goes to `syslog.unknown`.
 */
export function syslogKey(appname: string | null): string {
  if (appname === null || appname === '') return 'syslog.unknown';
  const segment = appname.replace(SEGMENT_BAD, '_');
  // After the replacement every character is one byte.
  return KEY_PREFIX + (segment.length > MAX_KEY_BYTES - KEY_PREFIX.length ? segment.slice(0, MAX_KEY_BYTES - KEY_PREFIX.length) : segment);
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

const COLON = 58;
/** Where the `: ` ending a cached header may be at the latest. */
const MAX_CACHED_HEADER = 512;

/**
 * Remembers what RFC 3164 headers parse to, so the lines of a busy sender (whose header only
 * changes once a second) skip the parser. Only headers that end with the tag's `: ` at the first
 * `: ` of the line are kept: everything in them, and nothing after, decides the parse, so a line
 * starting with the same header parses to the same fields.
 */
export class SyslogHeaderCache<T> {
  private readonly entries = new Map<string, T>();
  /** Where the text of the line last found begins. */
  textStart = 0;

  constructor(private readonly maxEntries = 4096) {}

  get(line: string): T | undefined {
    const colon = line.indexOf(': ');
    if (colon < 0 || colon > MAX_CACHED_HEADER) return undefined;
    const value = this.entries.get(line.slice(0, colon + 2));
    if (value !== undefined) this.textStart = colon + 2;
    return value;
  }

  /**
   * `get` for the message in `buf[start, end)`, before it is decoded: `textStart` is then a byte
   * offset. Headers with bytes outside ASCII are left to `get` (byte and character offsets differ).
   */
  getBytes(buf: Buffer, start: number, end: number): T | undefined {
    const limit = Math.min(end - 1, start + MAX_CACHED_HEADER + 1);
    for (let i = start; i < limit; i++) {
      const c = buf[i];
      if (c >= 0x80) return undefined;
      if (c === COLON && buf[i + 1] === SP) {
        const value = this.entries.get(buf.toString('latin1', start, i + 2));
        if (value !== undefined) this.textStart = i + 2;
        return value;
      }
    }
    return undefined;
  }

  /** Keeps `value` for the header of `line`, which parsed to `m`, when it is safe to. */
  set(line: string, m: SyslogMessage, value: T): void {
    if (m.appname === null || m.msgid !== null || m.structuredData !== null) return;
    const textStart = trimmedEnd(line) - m.text.length;
    if (line.indexOf(': ') + 2 !== textStart) return;
    // A sender whose headers never repeat (a changing pid) must not grow the map without end.
    if (this.entries.size >= this.maxEntries) this.entries.clear();
    this.entries.set(line.slice(0, textStart), value);
  }

  /** The text of `line` after the header `get` found. */
  text(line: string): string {
    return line.slice(this.textStart, trimmedEnd(line));
  }
}
