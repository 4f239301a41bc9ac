import { describe, expect, it } from 'vitest';
import { entryEvent, parseEntryLine, streamName, unitFilter, type JournalEntry } from '../src/index.js';

const CURSOR = 's=060d8a74cade43428d613d99840d9b0a;i=1;b=0123456789abcdef0123456789abcdef;m=1;t=60a24181e4000;x=843019527b49fc2b';

/** A line as `journalctl -o json --all` prints it: a field given twice is an array of its values. */
const MULTI = `{"_SYSTEMD_UNIT":"x.service","__REALTIME_TIMESTAMP":"1700000000000000","MESSAGE":"multi","__CURSOR":"${CURSOR}","_BOOT_ID":"0123456789abcdef0123456789abcdef","TAG":["a","b"],"__MONOTONIC_TIMESTAMP":"1"}`;

function entry(fields: Record<string, unknown>): JournalEntry {
  return parseEntryLine(JSON.stringify({ __CURSOR: CURSOR, ...fields }))!;
}

describe('parseEntryLine', () => {
  it('takes JSON objects with a cursor and refuses anything else', () => {
    expect(parseEntryLine(MULTI)?.TAG).toEqual(['a', 'b']);
    for (const line of ['not json', '[1,2]', 'null', '{"MESSAGE":"no cursor"}', '{"__CURSOR":5}']) expect(parseEntryLine(line)).toBeNull();
  });
});

describe('entryEvent', () => {
  it('keeps every value of a field given twice, and takes its time from __REALTIME_TIMESTAMP', () => {
    const e = entryEvent(parseEntryLine(MULTI)!);
    expect(e).toMatchObject({ key: 'journal.x', stream: 'x', unit: 'x.service' });
    expect(e.fields).toEqual({
      text: 'multi',
      unit: 'x.service',
      journal: { TAG: ['a', 'b'] },
      trusted: { _SYSTEMD_UNIT: 'x.service', _BOOT_ID: '0123456789abcdef0123456789abcdef' },
      unix_time: 1700000000,
    });
  });

  it('decodes byte arrays: UTF-8 text as text, anything else as base64', () => {
    const colour = [...Buffer.from('\x1b[1mbold\x1b[0m é')];
    const e = entryEvent(entry({ MESSAGE: colour, SYSLOG_IDENTIFIER: 'app', BIN: [0, 1, 2], BAD_UTF8: [0xc3, 0x28], BOTH: ['text', [0xff]] }));
    expect(e.fields.text).toBe('\x1b[1mbold\x1b[0m é');
    expect(e.fields.text_encoding).toBeUndefined();
    expect(e.fields.journal).toEqual({ SYSLOG_IDENTIFIER: 'app', BIN: { base64: 'AAEC' }, BAD_UTF8: { base64: 'wyg=' }, BOTH: ['text', { base64: '/w==' }] });
    const binary = entryEvent(entry({ MESSAGE: [0x41, 0x00, 0x42], SYSLOG_IDENTIFIER: 'app' }));
    expect(binary.fields).toMatchObject({ text: 'QQBC', text_encoding: 'base64' });
  });

  it('names PRIORITY 0 to 7 as syslog severities and leaves out what is absent or invalid', () => {
    const names = ['emerg', 'alert', 'crit', 'err', 'warning', 'notice', 'info', 'debug'];
    names.forEach((name, p) => expect(entryEvent(entry({ MESSAGE: 'm', PRIORITY: String(p) })).fields.severity).toBe(name));
    for (const bad of ['8', '-1', 'x', '']) expect(entryEvent(entry({ MESSAGE: 'm', PRIORITY: bad })).fields.severity).toBeUndefined();
    const bare = entryEvent(entry({}));
    expect(bare.fields).toEqual({ text: '', journal: {}, trusted: {} });
    expect(bare.key).toBe('journal.unknown');
  });

  it('takes pid from _PID, else SYSLOG_PID', () => {
    expect(entryEvent(entry({ MESSAGE: 'm', _PID: '12', SYSLOG_PID: '34' })).fields.pid).toBe(12);
    expect(entryEvent(entry({ MESSAGE: 'm', SYSLOG_PID: '34' })).fields.pid).toBe(34);
    expect(entryEvent(entry({ MESSAGE: 'm', SYSLOG_PID: 'abc' })).fields.pid).toBeUndefined();
  });
});

describe('streamName and the key', () => {
  it('prefers the container, then the unit without .service, then the identifier, then the command', () => {
    expect(streamName(entry({ CONTAINER_NAME: 'web-1', _SYSTEMD_UNIT: 'docker.service', SYSLOG_IDENTIFIER: 'abc' }))).toEqual({ stream: 'web-1', unit: 'docker.service' });
    expect(streamName(entry({ _SYSTEMD_UNIT: 'nginx.service', SYSLOG_IDENTIFIER: 'nginx-worker' })).stream).toBe('nginx');
    expect(streamName(entry({ _SYSTEMD_UNIT: 'session-3.scope' })).stream).toBe('session-3.scope');
    expect(streamName(entry({ SYSLOG_IDENTIFIER: 'kernel' }))).toEqual({ stream: 'kernel', unit: undefined });
    expect(streamName(entry({ _COMM: 'sshd' })).stream).toBe('sshd');
  });

  it('makes the name one key segment that fits in a key', () => {
    expect(entryEvent(entry({ _SYSTEMD_UNIT: 'session-3.scope' })).key).toBe('journal.session-3_scope');
    expect(entryEvent(entry({ _SYSTEMD_UNIT: 'user@1000.service' })).key).toBe('journal.user_1000');
    expect(entryEvent(entry({ CONTAINER_NAME: 'my app/é' })).key).toBe('journal.my_app__');
    expect(entryEvent(entry({ SYSLOG_IDENTIFIER: 'x'.repeat(300) })).key).toHaveLength(255);
  });
});

describe('unitFilter', () => {
  it('reads everything for "*"', () => {
    expect(unitFilter(['nginx', '*'])).toBeNull();
  });

  it('matches globs against the unit and the stream name', () => {
    const f = unitFilter(['nginx', 'docker.service', 'web-*', 'kernel'])!;
    expect(f('nginx', 'nginx.service')).toBe(true);
    expect(f('web-1', 'docker.service')).toBe(true);
    expect(f('web-2', undefined)).toBe(true);
    expect(f('kernel', undefined)).toBe(true);
    expect(f('cron', 'cron.service')).toBe(false);
    expect(f('nginx-exporter', 'nginx-exporter.service')).toBe(false);
    expect(unitFilter(['nginx*'])!('nginx-exporter', 'nginx-exporter.service')).toBe(true);
    expect(unitFilter(['*.socket'])!('dbus_socket', 'dbus.socket')).toBe(true);
  });
});
