import { describe, expect, it } from 'vitest';
import { isSyslogProblem, parseSyslog, syslogFieldJson, syslogKey, type SyslogMessage } from '../src/index.js';

function parsed(line: string): SyslogMessage {
  const r = parseSyslog(line);
  if (isSyslogProblem(r)) throw new Error(`not parsed: ${r.malformed}: ${r.detail}`);
  return r;
}

describe('RFC 3164', () => {
  it("reads Docker's rfc3164 form: host, tag and pid", () => {
    expect(parsed('<30>Nov 20 10:00:00 host web-7f9c[123]: text with: colons')).toEqual({
      facility: 3, severity: 6, timestamp: 'Nov 20 10:00:00', hostname: 'host', appname: 'web-7f9c', procid: '123',
      msgid: null, structuredData: null, text: 'text with: colons',
    });
  });

  it("reads Docker's default form and glibc's syslog(): no host, a space-padded day", () => {
    expect(parsed('<30>Nov  2 10:00:00 7f9c2b1a4e55[4242]: started\n')).toMatchObject({
      timestamp: 'Nov  2 10:00:00', hostname: null, appname: '7f9c2b1a4e55', procid: '4242', text: 'started',
    });
    expect(parsed('<13>Nov 20 10:00:00 cron: job done')).toMatchObject({ hostname: null, appname: 'cron', procid: null, text: 'job done' });
  });

  it('keeps tags with slashes and colons whole (docker tag templates such as {{.ImageName}}/{{.Name}})', () => {
    expect(parsed('<14>Nov 20 10:00:00 host nginx:1.25/web[7]: GET /')).toMatchObject({ appname: 'nginx:1.25/web', procid: '7', text: 'GET /' });
  });

  it("reads Go's DefaultFormatter: a space after PRI and an RFC 3339 time", () => {
    expect(parsed('<30> 2024-05-01T12:00:00+02:00 host app[1]: hi')).toMatchObject({
      timestamp: '2024-05-01T12:00:00+02:00', hostname: 'host', appname: 'app', text: 'hi',
    });
  });

  it('without a timestamp the whole rest after the tag is the text', () => {
    expect(parsed('<13>app[9]: no time')).toMatchObject({ timestamp: null, hostname: null, appname: 'app', procid: '9', text: 'no time' });
    expect(parsed('<13>just words here')).toMatchObject({ appname: null, text: 'just words here' });
  });

  it('names facility and severity as rsyslog and Vector do', () => {
    const m = parsed('<165>Nov 20 10:00:00 host app: x');
    expect(JSON.parse(syslogFieldJson(m))).toEqual({
      facility: 'local4', severity: 'notice', hostname: 'host', appname: 'app', procid: null, msgid: null, timestamp: 'Nov 20 10:00:00',
    });
    expect(JSON.parse(syslogFieldJson(parsed('<0>x')))).toMatchObject({ facility: 'kern', severity: 'emerg' });
    expect(JSON.parse(syslogFieldJson(parsed('<191>x')))).toMatchObject({ facility: 'local7', severity: 'debug' });
  });
});

describe('RFC 5424', () => {
  it('reads the header, structured data with escapes, and drops the BOM of the message', () => {
    const line = '<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 [exampleSDID@32473 iut="3" eventSource="App\\"lication\\]" eventID="1011"][examplePriority@32473 class="high"] \uFEFFAn application event';
    expect(parsed(line)).toEqual({
      facility: 20, severity: 5, timestamp: '2003-10-11T22:14:15.003Z', hostname: 'mymachine.example.com', appname: 'evntslog',
      procid: null, msgid: 'ID47',
      structuredData: { 'exampleSDID@32473': { iut: '3', eventSource: 'App"lication]', eventID: '1011' }, 'examplePriority@32473': { class: 'high' } },
      text: 'An application event',
    });
  });

  it('reads NILVALUEs as null, and a message without MSG as empty text', () => {
    expect(parsed('<13>1 - - - - - -')).toMatchObject({ timestamp: null, hostname: null, appname: null, procid: null, msgid: null, structuredData: null, text: '' });
  });

  it("reads Docker's rfc5424 form", () => {
    expect(parsed('<30>1 2024-05-01T12:00:00Z host web-7f9c 4242 web-7f9c - hello')).toMatchObject({ appname: 'web-7f9c', procid: '4242', msgid: 'web-7f9c', text: 'hello' });
  });

  it('refuses broken headers and structured data with a reason', () => {
    expect(parseSyslog('<13>1 2024-05-01T12:00:00Z host')).toMatchObject({ malformed: 'bad_header' });
    expect(parseSyslog('<13>1 - h a p m [id a="1"')).toMatchObject({ malformed: 'bad_structured_data' });
    expect(parseSyslog('<13>1 - h a p m [id a=1]')).toMatchObject({ malformed: 'bad_structured_data' });
    expect(parseSyslog('<13>1 - h a p m x')).toMatchObject({ malformed: 'bad_structured_data' });
  });
});

describe('priority', () => {
  it('refuses a PRI that is no facility and severity', () => {
    expect(parseSyslog('<192>x')).toMatchObject({ malformed: 'bad_priority', detail: 'PRI <192> is not <0> to <191>' });
    expect(parseSyslog('<1234>x')).toMatchObject({ malformed: 'bad_priority' });
    expect(parseSyslog('<0013>x')).toMatchObject({ malformed: 'bad_priority' });
  });

  it("keeps a line without <PRI> as user.notice, as rsyslog does (the continuation of logger --tcp's multi-line message)", () => {
    const user = { facility: 1, severity: 5, timestamp: null, hostname: null, appname: null, procid: null, msgid: null, structuredData: null };
    expect(parsed('b')).toEqual({ ...user, text: 'b' });
    expect(parsed('hello world\n')).toEqual({ ...user, text: 'hello world' });
    expect(parsed('')).toEqual({ ...user, text: '' });
    // Leading spaces are the text's (a stack trace's indentation), not a separator after a PRI.
    expect(parsed('    at Object.<anonymous> (/app/x.js:1:1)')).toEqual({ ...user, text: '    at Object.<anonymous> (/app/x.js:1:1)' });
    // What only looks like a PRI is text too.
    expect(parsed('<>x')).toEqual({ ...user, text: '<>x' });
    expect(parsed('<13x')).toEqual({ ...user, text: '<13x' });
    expect(parsed('<div class="a">')).toEqual({ ...user, text: '<div class="a">' });
    // A 5424-looking rest is not read as RFC 5424: a continuation line must never be refused.
    expect(parsed('1 2 3')).toEqual({ ...user, text: '1 2 3' });
  });

  it('reads the RFC 3164 header of a line without <PRI>', () => {
    expect(parsed('Nov 30 02:15:48 vm tg[12]: a')).toEqual({
      facility: 1, severity: 5, timestamp: 'Nov 30 02:15:48', hostname: 'vm', appname: 'tg', procid: '12', msgid: null, structuredData: null, text: 'a',
    });
  });
});

describe('syslogKey', () => {
  it('makes the app name one key segment, short enough for a key', () => {
    expect(syslogKey('web-7f9c')).toBe('syslog.web-7f9c');
    expect(syslogKey('nginx:1.25/web')).toBe('syslog.nginx:1.25_web'.replace('.25', '_25'));
    expect(syslogKey('a.b c')).toBe('syslog.a_b_c');
    expect(syslogKey('café')).toBe('syslog.caf_');
    expect(syslogKey(null)).toBe('syslog.unknown');
    expect(syslogKey('x'.repeat(400))).toHaveLength(255);
  });
});
