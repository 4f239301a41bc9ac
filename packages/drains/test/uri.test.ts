import { describe, expect, it } from 'vitest';
import { DrainUriError, mergeDrainArgs, parseDrainUri, redactUri, SCHEME_SYNTAX, TRANSPORTS } from '../src/index.js';

const ctx = { formats: { short: '{{name}}: {{text}}' } };

describe('parseDrainUri: valid URIs', () => {
  it('parses tcp with host, port and defaults', () => {
    expect(parseDrainUri('tcp://logs.example.com:514', ctx)).toEqual({
      uri: 'tcp://logs.example.com:514',
      scheme: 'tcp',
      host: 'logs.example.com',
      port: 514,
      filters: [],
      format: 'json',
      buffer: 10_000,
      params: {},
    });
  });

  it('accepts a trailing slash, an upper-case scheme and a bracketed IPv6 host', () => {
    expect(parseDrainUri('UDP://10.0.0.1:5514/', ctx)).toMatchObject({ scheme: 'udp', host: '10.0.0.1', port: 5514 });
    expect(parseDrainUri('tcp://[::1]:9000', ctx)).toMatchObject({ host: '::1', port: 9000 });
  });

  it('reads repeated filters, format and buffer', () => {
    const spec = parseDrainUri('tcp://h:1?filter=systail.nginx&filter=apptail.&format=raw&buffer=50', ctx);
    expect(spec.filters).toEqual(['systail.nginx', 'apptail.']);
    expect(spec.format).toBe('raw');
    expect(spec.buffer).toBe(50);
  });

  it('accepts named formats from the context, built-in ones and inline templates (percent-decoded)', () => {
    expect(parseDrainUri('tcp://h:1?format=short', ctx).format).toBe('short');
    expect(parseDrainUri('tcp://h:1?format=apptail', ctx).format).toBe('apptail');
    expect(parseDrainUri('tcp://h:1?format={{name}}:%20{{text}}', ctx).format).toBe('{{name}}: {{text}}');
    expect(parseDrainUri('tcp://h:1?format=a+b%2B{{text}}', ctx).format).toBe('a+b+{{text}}');
  });

  it('parses redis credentials (password percent-decoded), default port and its params', () => {
    const spec = parseDrainUri('redis://admin:p%40ss:w@cache:6380/?key=cloud_events&limit=256&database=2', ctx);
    expect(spec).toMatchObject({
      scheme: 'redis',
      host: 'cache',
      port: 6380,
      user: 'admin',
      password: 'p@ss:w',
      params: { key: 'cloud_events', limit: '256', database: '2' },
    });
    expect(parseDrainUri('rediss://:secret@cache', ctx)).toMatchObject({ port: 6379, password: 'secret', params: {} });
    expect(parseDrainUri('redis://cache', ctx).user).toBeUndefined();
    expect(parseDrainUri('redis://u:p/w@d@cache/1', ctx)).toMatchObject({ password: 'p/w@d', host: 'cache', params: { database: '1' } });
  });

  it('takes the redis database from a /N path', () => {
    expect(parseDrainUri('redis://127.0.0.1:6379/3?filter=apptail', ctx).params).toEqual({ database: '3' });
    expect(parseDrainUri('redis://h/3?database=3', ctx).params).toEqual({ database: '3' });
  });

  it('parses file paths, resolving .. and repeated slashes', () => {
    const spec = parseDrainUri('file:///var/log/logyard/../logyard//app%20x.log?overwrite=true', ctx);
    expect(spec.path).toBe('/var/log/logyard/app x.log');
    expect(spec.params).toEqual({ overwrite: 'true' });
    expect(spec.host).toBeUndefined();
  });

  it('tolerates empty query pieces', () => {
    expect(parseDrainUri('tcp://h:1?&filter=a&', ctx).filters).toEqual(['a']);
  });
});

describe('parseDrainUri: invalid URIs name the culprit', () => {
  const cases: Array<[string, string]> = [
    ['logs.example.com:514', 'drain URI: "logs.example.com:514" has no scheme (expected e.g. tcp://HOST:PORT)'],
    ['foo://h:1', 'drain URI: unknown scheme "foo" (known: tcp, udp, redis, rediss, file)'],
    ['tls://h:1', 'drain URI: scheme "tls" is not supported yet'],
    ['syslog+tls://h:1', 'drain URI: scheme "syslog+tls" is not supported yet'],
    ['https://h/x', 'drain URI: scheme "https" is not supported yet'],
    ['tcp://h:99999', 'drain URI: bad port "99999"'],
    ['tcp://h:0', 'drain URI: bad port "0"'],
    ['tcp://h:', 'drain URI: bad port ""'],
    ['udp://h:51a', 'drain URI: bad port "51a"'],
    ['tcp://h', 'drain URI: tcp needs a port (tcp://HOST:PORT)'],
    ['tcp://:514', 'drain URI: tcp needs a host (tcp://HOST:PORT)'],
    ['redis://', 'drain URI: redis needs a host (redis://HOST)'],
    ['tcp://bad host:1', 'drain URI: bad host "bad host"'],
    ['tcp://[::1:1', 'drain URI: bad host "[::1:1"'],
    ['tcp://u:p@h:1', 'drain URI: tcp takes no user:password@'],
    ['tcp://h:1/x', 'drain URI: tcp takes no path, got "/x"'],
    ['file://rel/x.log', 'drain URI: file path "rel/x.log" must be absolute'],
    ['file://', 'drain URI: file needs a path (file:///ABSOLUTE/PATH)'],
    ['file:///var/log/', 'drain URI: file path "/var/log/" names a directory, not a file'],
    ['file:///a/..', 'drain URI: file path "/a/.." names a directory, not a file'],
    ['tcp://h:1?colour=red', 'drain URI: unknown param "colour"'],
    ['tcp://h:1?limit=5', 'drain URI: unknown param "limit"'],
    ['file:///x.log?key=k', 'drain URI: unknown param "key"'],
    ['tcp://h:1?buffer=abc', 'drain URI: bad value for buffer: "abc"'],
    ['tcp://h:1?buffer=0', 'drain URI: bad value for buffer: "0"'],
    ['tcp://h:1?disk=256MiB', 'drain URI: param "disk" is not supported yet'],
    ['tcp://h:1?rate=10', 'drain URI: param "rate" is not supported yet'],
    ['tcp://h:1?burst=10', 'drain URI: param "burst" is not supported yet'],
    ['tcp://h:1?filter', 'drain URI: param "filter" has no value (expected filter=VALUE)'],
    ['tcp://h:1?filter=sys%20tail', 'drain URI: filter "sys tail" may only contain [A-Za-z0-9_:.-]'],
    ['tcp://h:1?format=fancy', 'drain URI: unknown format "fancy" (known: json, raw, systail, apptail, event, short)'],
    ['tcp://h:1?format={{text', 'drain URI: format template "{{text" has an unclosed "{{" at offset 0'],
    ['tcp://h:1?format=a{{}}', 'drain URI: format template "a{{}}" has an empty "{{}}" at offset 1'],
    ['tcp://h:1?format=raw&format=json', 'drain URI: param "format" given twice'],
    ['tcp://h:1?filter=%E0%A4%A', 'drain URI: bad percent-encoding in "%E0%A4%A"'],
    ['redis://h?limit=-1', 'drain URI: bad value for limit: "-1"'],
    ['redis://h?key=', 'drain URI: bad value for key: ""'],
    ['redis://h?database=x', 'drain URI: bad value for database: "x"'],
    ['redis://h/x', 'drain URI: bad database path "/x"'],
    ['redis://u:s3cr%t@h', 'drain URI: bad percent-encoding in the password'],
    ['redis://h/1?database=2', 'drain URI: database given twice: path "/1" and database=2'],
    ['file:///x.log?overwrite=yes', 'drain URI: bad value for overwrite: "yes"'],
  ];

  it.each(cases)('%s', (uri, message) => {
    let thrown: unknown;
    try {
      parseDrainUri(uri, ctx);
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toBeInstanceOf(DrainUriError);
    expect((thrown as Error).message).toBe(message);
  });
});

describe('schemes', () => {
  it('every transport has a URI syntax and vice versa', () => {
    expect(Object.keys(SCHEME_SYNTAX).sort()).toEqual(Object.keys(TRANSPORTS).sort());
  });
});

describe('redactUri', () => {
  it.each([
    ['redis://admin:s3cret@cache:6379/0?key=k', 'redis://admin:***@cache:6379/0?key=k'],
    ['redis://:s3cret@cache', 'redis://:***@cache'],
    ['redis://a:p@ss@cache', 'redis://a:***@cache'],
    ['redis://a:p/w@d@cache/1', 'redis://a:***@cache/1'],
    ['redis://admin@cache', 'redis://admin@cache'],
    ['tcp://h:514?filter=a', 'tcp://h:514?filter=a'],
    ['file:///var/log/a:b@c.log', 'file:///var/log/a:b@c.log'],
    ['what://u:pw@@?&', 'what://u:***@?&'],
    ['not a uri', 'not a uri'],
  ])('%s → %s', (uri, shown) => {
    expect(redactUri(uri)).toBe(shown);
  });
});

describe('mergeDrainArgs', () => {
  it('appends filters and replaces format and params', () => {
    const merged = mergeDrainArgs('redis://h/?filter=apptail&format=raw&limit=10', {
      filters: ['event'],
      format: 'json',
      params: { limit: '20', key: 'k' },
    });
    expect(merged).toBe('redis://h/?filter=apptail&filter=event&format=json&limit=20&key=k');
    expect(parseDrainUri(merged, ctx)).toMatchObject({ filters: ['apptail', 'event'], format: 'json', params: { limit: '20', key: 'k' } });
  });

  it('adds a query to a URI without one, and leaves the URI alone when nothing is added', () => {
    expect(mergeDrainArgs('tcp://h:1', { filters: ['systail'] })).toBe('tcp://h:1?filter=systail');
    expect(mergeDrainArgs('tcp://h:1?filter=a', {})).toBe('tcp://h:1?filter=a');
  });

  it('encodes templates so they survive the round trip and stay readable', () => {
    const template = '{{name}} & {{text}} 100%+#';
    const merged = mergeDrainArgs('tcp://h:1', { format: template });
    expect(merged).toBe('tcp://h:1?format={{name}}%20%26%20{{text}}%20100%25%2B%23');
    expect(parseDrainUri(merged, ctx).format).toBe(template);
  });
});
