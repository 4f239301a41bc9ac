import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SCHEMES } from '../src/index.js';
import { closedAfterEach, eventJson, makeDrain, NODE_ID, waitFor, waitForState } from './helpers.js';
import { startRsyslogReceiver } from '../../../test/setup/services.js';
import { listenForSyslog } from './targets.js';
import { useTestCerts } from './tls-certs.js';

const certs = useTestCerts();
const syslogServer = closedAfterEach(listenForSyslog);

/** One event of each stream of docs/drains.md, keys and filters, and what a syslog receiver should read of it. */
function pushStreams(push: (key: string, json: string) => void): void {
  push('systail.nginx.test-node', eventJson('GET / 200', { name: 'nginx', human_time: '2026-03-01T10:00:00.250+01:00' }));
  push('apptail.4f2a', eventJson('héllo ✓ from the app\n  at line two', { app_id: '4f2a', app_name: 'shop front', instance_index: 3, source: 'stderr' }));
  push('event.oom_kill', eventJson('Out of memory: Kill process 42', { type: 'oom_kill', desc: 'killed 42', severity: 'ERROR', process: 'kern' }));
  push('syslog.cron', eventJson('job done', { syslog: { facility: 'cron', severity: 'notice', hostname: 'h', appname: 'CRON', procid: '812', msgid: 'JOB' } }));
  push('app.orders', eventJson('x'.repeat(10), { name: 'a'.repeat(100), unix_time: 1_772_355_600.5, human_time: 'yesterday' }));
}

describe('syslog drain', () => {
  it('sends RFC 5424 messages with octet counting that an independent parser reads back field by field', async () => {
    const server = await syslogServer();
    const drain = makeDrain('papertrail', `syslog://127.0.0.1:${server.port}`);
    drain.start();
    pushStreams((key, json) => drain.push(key, json));
    await waitFor('five messages', () => server.messages.length === 5, undefined, drain);

    const [systail, apptail, event, cron, long] = server.parsed();
    for (const message of server.parsed()) expect(message).toMatchObject({ type: 'RFC5424', version: 1 });
    // A relay keeps the HOSTNAME of what came in as syslog; the rest are this node's own.
    expect(server.parsed().map((message) => message.host)).toEqual([NODE_ID, NODE_ID, NODE_ID, 'h', NODE_ID]);
    expect(systail).toMatchObject({ prival: 14, facility: 'user', level: 'info', appName: 'nginx', pid: '-', messageid: '-', message: 'GET / 200' });
    expect(systail.ts.toISOString()).toBe('2026-03-01T09:00:00.250Z');
    // Non-ASCII and spaces are not allowed in APP-NAME; the message keeps its UTF-8 and its newline.
    expect(apptail).toMatchObject({ level: 'info', appName: 'shop_front', pid: '3', message: 'héllo ✓ from the app\n  at line two' });
    expect(event).toMatchObject({ facility: 'user', level: 'error', appName: 'event.oom_kill', messageid: 'oom_kill', message: 'Out of memory: Kill process 42' });
    expect(cron).toMatchObject({ facility: 'cron', level: 'notice', appName: 'CRON', pid: '812', messageid: 'JOB', message: 'job done' });
    // APP-NAME is at most 48 characters; an unusable human_time falls back to unix_time.
    expect(long.appName).toBe('a'.repeat(48));
    expect(long.ts.toISOString()).toBe('2026-03-01T09:00:00.500Z');
    expect(drain.status()).toMatchObject({ state: 'RUNNING', sent: 5 });
  });

  it('applies the drain format to MSG', async () => {
    const server = await syslogServer();
    const drain = makeDrain('formatted', `syslog://127.0.0.1:${server.port}?format=json`);
    drain.start();
    drain.push('systail.nginx', eventJson('hello', { name: 'nginx' }));
    await waitFor('the message', () => server.messages.length === 1, undefined, drain);
    const [message] = server.parsed();
    expect(JSON.parse(message.message)).toMatchObject({ text: 'hello', name: 'nginx', node_id: NODE_ID });
  });

  it('over TLS, trusts the server through the test CA given as ca=', async () => {
    const server = await syslogServer(certs().server);
    const drain = makeDrain('secure', `syslog+tls://127.0.0.1:${server.port}?ca=${certs().caFile}`);
    drain.start();
    pushStreams((key, json) => drain.push(key, json));
    await waitFor('five messages', () => server.messages.length === 5, undefined, drain);
    expect(server.parsed().map((m) => [m.appName, m.level, m.message])).toEqual([
      ['nginx', 'info', 'GET / 200'],
      ['shop_front', 'info', 'héllo ✓ from the app\n  at line two'],
      ['event.oom_kill', 'error', 'Out of memory: Kill process 42'],
      ['CRON', 'notice', 'job done'],
      ['a'.repeat(48), 'info', 'x'.repeat(10)],
    ]);
  });

  it('refuses a self-signed certificate (RETRYING, saying why) unless insecure=true', async () => {
    const server = await syslogServer(certs().selfSigned);
    const strict = makeDrain('strict', `syslog+tls://localhost:${server.port}`);
    strict.start();
    strict.push('systail.app', eventJson('kept back'));
    const status = await waitForState(strict, 'RETRYING');
    expect(status.error).toBe(
      `TLS certificate of localhost:${server.port} rejected: self-signed certificate (give ca=/path/to/ca.pem to trust its CA, or insecure=true)`,
    );
    expect(status.buffered).toBe(1);

    const insecure = makeDrain('insecure', `syslog+tls://localhost:${server.port}?insecure=true`);
    insecure.start();
    insecure.push('systail.app', eventJson('sent anyway', { name: 'app' }));
    await waitFor('the message', () => server.messages.length === 1, undefined, insecure);
    expect(server.parsed()[0]).toMatchObject({ appName: 'app', message: 'sent anyway' });
    expect(server.messages).toHaveLength(1); // nothing from the strict drain
  });

  it('a CA file that cannot be read makes the drain FATAL, naming the file', async () => {
    const server = await syslogServer(certs().server);
    const missing = `${certs().dir}/missing.pem`;
    const drain = makeDrain('no-ca', `syslog+tls://127.0.0.1:${server.port}?ca=${missing}`);
    drain.start();
    const status = await waitForState(drain, 'FATAL');
    expect(status.error).toBe(`cannot read ca file "${missing}": ENOENT: no such file or directory, open '${missing}'`);

    const notPem = makeDrain('not-pem', `syslog+tls://127.0.0.1:${server.port}?ca=${certs().dir}/server.ext`);
    notPem.start();
    expect((await waitForState(notPem, 'FATAL')).error).toBe(`ca file "${certs().dir}/server.ext" holds no PEM certificate`);
  });
});

describe('syslog drain as a relay', () => {
  /** An event as `logyard receive` publishes a syslog message it took in. */
  function received(text: string, syslog: Record<string, unknown>): string {
    const fields = { facility: 'local4', severity: 'notice', hostname: null, appname: 'evntslog', procid: null, msgid: 'ID47', timestamp: null, ...syslog };
    return eventJson(text, { syslog: fields });
  }
  const sd = { 'origin@32473': { ip: '10.0.0.7', software: 'shop' } };

  it("keeps the sender's HOSTNAME and structured data; node_id only when the sender gave no HOSTNAME", async () => {
    const server = await syslogServer();
    const drain = makeDrain('relay', `syslog://127.0.0.1:${server.port}`);
    drain.start();
    drain.push('syslog.evntslog', received('from web-7', { hostname: 'web-7.example.com', structured_data: sd }));
    drain.push('syslog.evntslog', received('no hostname', {}));
    drain.push('systail.nginx.n1', eventJson('local line', { name: 'nginx' }));
    await waitFor('three messages', () => server.messages.length === 3, undefined, drain);

    const [relayed, anonymous, local] = server.parsed();
    expect(relayed).toMatchObject({ host: 'web-7.example.com', facility: 'local4', level: 'notice', appName: 'evntslog', messageid: 'ID47', message: 'from web-7' });
    expect(relayed.structuredData).toEqual([{ $id: 'origin@32473', ip: '10.0.0.7', software: 'shop' }]);
    expect(anonymous).toMatchObject({ host: NODE_ID, structuredData: [], message: 'no hostname' });
    expect(local).toMatchObject({ host: NODE_ID, structuredData: [], message: 'local line' });
  });

  it('escapes param values as RFC 5424 says and leaves out names it does not allow', async () => {
    const server = await syslogServer();
    const drain = makeDrain('escapes', `syslog://127.0.0.1:${server.port}`);
    drain.start();
    const data = { 'a@1': { q: 'x"y\\z]', n: 5 }, 'bad id': { p: 'v' }, 'b@2': { 'bad=name': 'v', ok: 'é' } };
    drain.push('syslog.evntslog', received('m', { hostname: 'h', structured_data: data }));
    await waitFor('the message', () => server.messages.length === 1, undefined, drain);
    expect(server.messages[0]).toMatch(/^<165>1 \S+ h evntslog - ID47 \[a@1 q="x\\"y\\\\z\\]" n="5"\]\[b@2 ok="é"\] m$/);
  });

  it('a real rsyslogd receiving from it keeps the HOSTNAME and structured data', async () => {
    const rsyslog = await startRsyslogReceiver();
    try {
      const drain = makeDrain('to-rsyslog', `syslog://127.0.0.1:${rsyslog.port}`);
      drain.start();
      const data = { 'origin@32473': { ip: '10.0.0.7' }, 'meta@1': { q: 'say "hi" [now]\\' } };
      drain.push('syslog.evntslog', received('relayed line', { hostname: 'web-7.example.com', procid: '812', structured_data: data }));
      drain.push('systail.nginx.n1', eventJson('own line', { name: 'nginx' }));
      await waitFor('two lines written by rsyslogd', () => rsyslog.lines().length === 2, undefined, drain);
      expect(rsyslog.lines()).toEqual([
        'web-7.example.com|evntslog|812|ID47|[origin@32473 ip="10.0.0.7"][meta@1 q="say \\"hi\\" [now\\]\\\\"]|local4.notice|relayed line',
        `${NODE_ID}|nginx|-|-|-|user.info|own line`,
      ]);
    } finally {
      await rsyslog.close();
    }
  });
});

describe('syslog messages (property-based)', () => {
  // RFC 5424 section 6 ABNF: HEADER SP STRUCTURED-DATA [SP MSG], with the field limits.
  const PRINT = '[\\x21-\\x7e]';
  const HEADER_RE = new RegExp(
    `^<(\\d{1,3})>1 (-|\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d(?:\\.\\d{1,6})?(?:Z|[+-]\\d\\d:\\d\\d)) (${PRINT}{1,255}) (${PRINT}{1,48}) (${PRINT}{1,128}) (${PRINT}{1,32}) -(?: |$)`,
  );
  const anyValue = fc.oneof(fc.string(), fc.string({ unit: 'binary', maxLength: 300 }), fc.integer(), fc.double(), fc.constant(null), fc.boolean());
  const event = fc.record(
    {
      text: fc.string({ unit: 'binary' }),
      node_id: anyValue,
      unix_time: fc.oneof(fc.double(), fc.integer()),
      human_time: fc.oneof(fc.string(), fc.date({ noInvalidDate: true }).map((d) => d.toISOString())),
      name: anyValue,
      app_name: anyValue,
      instance_index: anyValue,
      type: anyValue,
      severity: fc.oneof(fc.constantFrom('ERROR', 'WARNING', 'INFO', 'debug'), anyValue),
      syslog: fc.record(
        { facility: fc.oneof(fc.integer({ min: -2, max: 30 }), fc.constantFrom('kern', 'local7', 'LOCAL0', 'bogus')), severity: anyValue, appname: anyValue, procid: anyValue, msgid: anyValue },
        { requiredKeys: [] },
      ),
    },
    { requiredKeys: ['text'] },
  );
  const key = fc.constantFrom('systail.nginx.n1', 'apptail.abc', 'event.oom_kill', 'syslog.cron', 'logyard.notice', 'x'.repeat(255));

  it('every event makes a frame whose count is its byte length and whose header keeps the RFC limits', () => {
    const frameSyslog = SCHEMES.syslog.output!('{{text}}', {});
    fc.assert(
      fc.property(key, event, (k, e) => {
        const json = JSON.stringify(e);
        const frame = frameSyslog(k, json);
        const space = frame.indexOf(' ');
        const message = frame.slice(space + 1);
        expect(Number(frame.slice(0, space))).toBe(Buffer.byteLength(message));
        const header = HEADER_RE.exec(message);
        expect(header, message.slice(0, 200)).not.toBeNull();
        expect(Number(header![1])).toBeLessThanOrEqual(191);
        const msg = e.text.endsWith('\n') ? e.text.slice(0, -1) : e.text;
        expect(message.endsWith(msg === '' ? ' -' : ` ${msg}`)).toBe(true);
      }),
      { numRuns: 2000 },
    );
  });
});
