/** RFC 5424 after `<PRI>VERSION `: the header fields, structured data and MSG. */
import type { StructuredData, SyslogMessage, SyslogParseResult } from './syslog.js';

const SP = 32;

export function parse5424(line: string, start: number, end: number, facility: number, severity: number): SyslogParseResult {
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
