import { describe, expect, it } from 'vitest';
import { DrainUriError, mergeDrainArgs, parseDrainUri, SCHEMES, TLS_SCHEMES } from '../src/index.js';

const ctx = { formats: { short: '{{name}}: {{text}}' } };

describe('parseDrainUri: valid URIs', () => {
  it('parses tcp with host, port and defaults', () => {
    expect(parseDrainUri('tcp://logs.example.com:514', ctx)).toEqual({
      uri: 'tcp://logs.example.com:514',
      scheme: 'tcp',
      tls: false,
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

  it('refuses a network URI whose authority starts with a slash, which would hide credentials from redaction', () => {
    // Found by the property test: the password of http:///u:p@h was shown in listings.
    expect(() => parseDrainUri('http:///u:p@h/insecure=', { formats: {} })).toThrow('drain URI: http needs a host right after "http://"');
    expect(() => parseDrainUri('tcp:///x', { formats: {} })).toThrow(/tcp needs a host/);
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

  it('parses tls with its CA or the explicit opt-out of verification', () => {
    expect(parseDrainUri('tls://logs.example.com:6514?ca=/etc/ssl/logs-ca.pem', ctx)).toMatchObject({
      scheme: 'tls',
      host: 'logs.example.com',
      port: 6514,
      format: 'json',
      params: { ca: '/etc/ssl/logs-ca.pem' },
    });
    expect(parseDrainUri('tls://h:1?insecure=true', ctx).params).toEqual({ insecure: 'true' });
  });

  it('gives syslog its default ports (514, 6514 for TLS) and the event text as default format', () => {
    expect(parseDrainUri('syslog://logs.example.com', ctx)).toMatchObject({ scheme: 'syslog', port: 514, format: '{{text}}', params: {} });
    expect(parseDrainUri('syslog+tls://logs3.papertrailapp.com:12345', ctx)).toMatchObject({ scheme: 'syslog+tls', port: 12345, format: '{{text}}' });
    expect(parseDrainUri('SYSLOG+TLS://h', ctx)).toMatchObject({ scheme: 'syslog+tls', port: 6514 });
    expect(parseDrainUri('syslog://h?format=json', ctx).format).toBe('json');
  });

  it('keeps the http path as written, with credentials, batch and default ports', () => {
    expect(parseDrainUri('https://ingest:t%40ken@logs.example.com/v1/bulk%20load?batch=100&ca=/ca.pem', ctx)).toMatchObject({
      scheme: 'https',
      host: 'logs.example.com',
      port: 443,
      path: '/v1/bulk%20load',
      user: 'ingest',
      password: 't@ken',
      params: { batch: '100', ca: '/ca.pem' },
    });
    expect(parseDrainUri('http://h:8080', ctx)).toMatchObject({ port: 8080, path: '/' });
    expect(parseDrainUri('http://h/', ctx)).toMatchObject({ port: 80, path: '/' });
  });

  it('reads rate and burst for every scheme; burst defaults to one second of rate', () => {
    expect(parseDrainUri('tcp://h:1?rate=100&burst=500', ctx)).toMatchObject({ rate: 100, burst: 500 });
    expect(parseDrainUri('udp://h:1?rate=100', ctx)).toMatchObject({ rate: 100, burst: 100 });
    expect(parseDrainUri('file:///x.log?rate=0.5', ctx)).toMatchObject({ rate: 0.5, burst: 1 });
    expect(parseDrainUri('tcp://h:1', ctx).rate).toBeUndefined();
  });

  it('reads disk=SIZE as bytes (binary units), refused for temporary drains', async () => {
    const { parseSize } = await import('../src/params.js');
    expect(parseSize('64MiB')).toBe(64 * 2 ** 20);
    expect(parseSize('2GiB')).toBe(2 * 2 ** 30);
    expect(parseSize('16384KiB')).toBe(16 * 2 ** 20);
    expect(parseSize('1TiB')).toBe(2 ** 40);
    for (const bad of ['64', '64MB', '0MiB', '1.5GiB', ' 64MiB', '064MiB', '99999999999TiB']) expect(parseSize(bad)).toBeUndefined();
    expect(parseDrainUri('tcp://h:1?disk=2GiB', ctx).diskBytes).toBe(2 * 2 ** 30);
    expect(() => parseDrainUri('tcp://h:1?disk=2GiB', { ...ctx, drainName: 'tmp.tail.n1.4000' })).toThrow(
      'drain URI: param "disk": temporary (tmp.) drains keep no disk buffer',
    );
  });

  it('takes buffer up to 10,000,000 and filters that are key prefixes', () => {
    expect(parseDrainUri('tcp://h:1?buffer=10000000', ctx).buffer).toBe(10_000_000);
    expect(parseDrainUri('tcp://h:1?filter=systail.ngi&filter=apptail.&filter=a:b-c_d.e', ctx).filters).toEqual(['systail.ngi', 'apptail.', 'a:b-c_d.e']);
  });

  it('passes the params of an http(s) target through as written, and keeps its own', () => {
    const query = 'query=INSERT%20INTO%20logs%20FORMAT%20JSONEachRow';
    const spec = parseDrainUri(`https://h:8443/?filter=systail&${query}&batch=10&ca=/ca.pem&date_time_input_format=best_effort&flag`, ctx);
    expect(spec).toMatchObject({ path: '/', filters: ['systail'], params: { batch: '10', ca: '/ca.pem' } });
    expect(spec.targetQuery).toBe(`${query}&date_time_input_format=best_effort&flag`);
    // Repeated target params are the target's business; '+' stays a '+'.
    expect(parseDrainUri('http://h/p?a=1&a=2&b=x+y', ctx).targetQuery).toBe('a=1&a=2&b=x+y');
    expect(parseDrainUri('http://h/p?filter=a', ctx).targetQuery).toBeUndefined();
  });

  it('tolerates empty query pieces', () => {
    expect(parseDrainUri('tcp://h:1?&filter=a&', ctx).filters).toEqual(['a']);
  });
});

describe('parseDrainUri: invalid URIs name the culprit', () => {
  const cases: Array<[string, string]> = [
    ['logs.example.com:514', 'drain URI: "logs.example.com:514" has no scheme (expected e.g. tcp://HOST:PORT)'],
    ['foo://h:1', 'drain URI: unknown scheme "foo" (known: tcp, udp, redis, rediss, file, tls, syslog, syslog+tls, http, https)'],
    ['tls://h', 'drain URI: tls needs a port (tls://HOST:PORT)'],
    ['tls://h:1?ca=certs/ca.pem', 'drain URI: bad value for ca: "certs/ca.pem"'],
    ['tls://h:1?insecure=yes', 'drain URI: bad value for insecure: "yes"'],
    ['tls://h:1?ca=/ca.pem&insecure=true', 'drain URI: params "ca" and "insecure=true" contradict each other (ca verifies, insecure does not)'],
    ['tls://u:p@h:1', 'drain URI: tls takes no user:password@'],
    ['syslog://h?ca=/ca.pem', 'drain URI: unknown param "ca"'],
    ['syslog+tls://h/x', 'drain URI: syslog+tls takes no path, got "/x"'],
    ['http://h?insecure=true', 'drain URI: unknown param "insecure"'],
    ['https://h/x?batch=0', 'drain URI: bad value for batch: "0"'],
    ['https://h/x?batch=1001', 'drain URI: bad value for batch: "1001"'],
    ['https://h/a b', 'drain URI: bad path "/a b" (percent-encode spaces and other special characters)'],
    ['https://h/a%zz', 'drain URI: bad percent-encoding in "/a%zz"'],
    ['https://h/a#top', 'drain URI: bad path "/a#top" (percent-encode spaces and other special characters)'],
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
    ['tcp://h:1?buffer=abc', 'drain URI: bad value for buffer: "abc" (events, 1 to 10000000)'],
    ['tcp://h:1?buffer=0', 'drain URI: bad value for buffer: "0" (events, 1 to 10000000)'],
    ['tcp://h:1?buffer=10000001', 'drain URI: bad value for buffer: "10000001" (events, 1 to 10000000)'],
    ['tcp://h:1?buffer=10000000000', 'drain URI: bad value for buffer: "10000000000" (events, 1 to 10000000)'],
    ['tcp://h:1?disk=64', 'drain URI: bad value for disk: "64" (a size with its unit, e.g. 64MiB or 2GiB)'],
    ['tcp://h:1?disk=64mb', 'drain URI: bad value for disk: "64mb" (a size with its unit, e.g. 64MiB or 2GiB)'],
    ['tcp://h:1?disk=15MiB', 'drain URI: bad value for disk: "15MiB" (at least 16MiB)'],
    ['tcp://h:1?filter=..', 'drain URI: filter ".." starts with a dot: keys are dot-separated segments of [A-Za-z0-9_:-]'],
    ['tcp://h:1?filter=a..b', 'drain URI: filter "a..b" has an empty segment (".."): keys are dot-separated segments of [A-Za-z0-9_:-]'],
    ['tcp://h:1?filter=.systail', 'drain URI: filter ".systail" starts with a dot: keys are dot-separated segments of [A-Za-z0-9_:-]'],
    ['tcp://h:1?filter=sys%20tail', 'drain URI: filter "sys tail" may only contain [A-Za-z0-9_:.-]'],
    ['http://h?ca=/ca.pem', 'drain URI: unknown param "ca"'],
    ['http://h?filter=a&format=json&format=raw', 'drain URI: param "format" given twice'],
    ['http://h?query=INSERT INTO t', 'drain URI: bad query param "query=INSERT INTO t" (percent-encode spaces and other special characters)'],
    ['http://h?query=%zz', 'drain URI: bad percent-encoding in "query=%zz"'],
    ['tcp://h:1?rate=0', 'drain URI: bad value for rate: "0" (events/s, a number > 0)'],
    ['tcp://h:1?rate=-5', 'drain URI: bad value for rate: "-5" (events/s, a number > 0)'],
    ['tcp://h:1?rate=1e3', 'drain URI: bad value for rate: "1e3" (events/s, a number > 0)'],
    ['tcp://h:1?rate=10&burst=0', 'drain URI: bad value for burst: "0" (events, an integer >= 1)'],
    ['tcp://h:1?rate=10&burst=2.5', 'drain URI: bad value for burst: "2.5" (events, an integer >= 1)'],
    ['tcp://h:1?burst=10', 'drain URI: param "burst" needs "rate" (events/s)'],
    ['tcp://h:1?filter', 'drain URI: param "filter" has no value (expected filter=VALUE)'],
    ['tcp://h:1?filter=sys%20tail', 'drain URI: filter "sys tail" may only contain [A-Za-z0-9_:.-]'],
    ['tcp://h:1?filter=a%0Ab%00', 'drain URI: filter "a\\nb\\u0000" may only contain [A-Za-z0-9_:.-]'],
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
  it('a TLS variant is the same descriptor as its plain scheme, with TLS params and its own default port', () => {
    expect(SCHEMES.tls).toBe(SCHEMES.tcp);
    expect(SCHEMES.rediss).toBe(SCHEMES.redis);
    expect(SCHEMES['syslog+tls']).toBe(SCHEMES.syslog);
    expect(SCHEMES.https).toBe(SCHEMES.http);
    for (const name of TLS_SCHEMES) expect(Object.keys(SCHEMES)).toContain(name);
    expect(parseDrainUri('syslog+tls://h?ca=/ca.pem', ctx)).toMatchObject({ tls: true, port: 6514, params: { ca: '/ca.pem' } });
    expect(parseDrainUri('syslog://h', ctx)).toMatchObject({ tls: false, port: 514 });
    expect(parseDrainUri('rediss://h?insecure=true', ctx)).toMatchObject({ tls: true, port: 6379, params: { insecure: 'true' } });
    expect(() => parseDrainUri('syslog://h?ca=/ca.pem', ctx)).toThrow('drain URI: unknown param "ca"');
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

  it("encodes a target's own param given as a drain add argument, so it goes on the request line", () => {
    const merged = mergeDrainArgs('http://ch:8123/', { params: { query: 'INSERT INTO logs FORMAT JSONEachRow' } });
    expect(merged).toBe('http://ch:8123/?query=INSERT%20INTO%20logs%20FORMAT%20JSONEachRow');
    expect(parseDrainUri(merged, ctx).targetQuery).toBe('query=INSERT%20INTO%20logs%20FORMAT%20JSONEachRow');
  });

  it('encodes templates so they survive the round trip and stay readable', () => {
    const template = '{{name}} & {{text}} 100%+#';
    const merged = mergeDrainArgs('tcp://h:1', { format: template });
    expect(merged).toBe('tcp://h:1?format={{name}}%20%26%20{{text}}%20100%25%2B%23');
    expect(parseDrainUri(merged, ctx).format).toBe(template);
  });
});
