import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listenForHttp, listenForSyslog, type HttpTarget, type SyslogServer } from '../packages/drains/test/targets.js';
import { useTestCerts } from '../packages/drains/test/tls-certs.js';
import { TcpTarget, TestNode, until } from './helpers/cli.js';

/**
 * The outbound drains of issue 6 through a real core and the real `logyard` command: syslog
 * over TLS read back by an independent RFC 5424 parser, https with a CA made by openssl,
 * an http target refusing with 400, and rate limits.
 */
describe('tls, syslog and http drains on a node', () => {
  const certs = useTestCerts();
  const node = new TestNode('tls-node');
  const closers: Array<{ close(): Promise<void> }> = [];

  beforeAll(async () => {
    await node.startCore();
  });
  afterAll(async () => {
    for (const target of closers) await target.close();
    await node.cleanup();
  });

  async function syslogTarget(): Promise<SyslogServer> {
    const target = await listenForSyslog(certs().server);
    closers.push(target);
    return target;
  }
  async function httpTarget(tls?: { cert: string; key: string }): Promise<HttpTarget> {
    const target = await listenForHttp(tls);
    closers.push(target);
    return target;
  }

  async function addDrain(name: string, uri: string, ...extra: string[]): Promise<void> {
    const added = await node.cli(['drain', 'add', name, uri, ...extra]);
    expect(added.stderr).toBe('');
    expect(added.code).toBe(0);
  }

  async function statusRow(name: string): Promise<string> {
    const { stdout } = await node.cli(['drain', 'status', name]);
    return stdout.split('\n').find((line) => line.startsWith(`${name} `)) ?? '';
  }

  it('syslog+tls: Papertrail-style messages verified with ca=, parsed back by nsyslog-parser', async () => {
    const target = await syslogTarget();
    await addDrain('papertrail', `syslog+tls://localhost:${target.port}?ca=${certs().caFile}`, '-f', 'shop');
    await until(async () => (await statusRow('papertrail')).includes('RUNNING'), 'the syslog drain RUNNING');
    expect((await node.cli(['publish', 'shop.web', 'order 42 placed'])).code).toBe(0);
    const event = { text: 'payment failed', app_name: 'shop', instance_index: 2, source: 'stderr' };
    expect((await node.cli(['publish', 'shop.pay', '--json'], { input: JSON.stringify(event) + '\n' })).code).toBe(0);
    await until(() => target.messages.length === 2, 'two syslog messages');

    const [web, pay] = target.parsed();
    expect(web).toMatchObject({ type: 'RFC5424', version: 1, facility: 'user', level: 'info', host: 'tls-node', appName: 'shop.web', pid: '-', message: 'order 42 placed' });
    expect(pay).toMatchObject({ host: 'tls-node', appName: 'shop', pid: '2', message: 'payment failed' });
    // On the wire: PRI, VERSION, the event's human_time, HOSTNAME, APP-NAME, no PROCID, MSGID or SD.
    expect(target.messages[0]).toMatch(/^<14>1 \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}(?:Z|[+-]\d\d:\d\d) tls-node shop\.web - - - order 42 placed$/);
  });

  it('https: 50 published events arrive as NDJSON in fewer than 50 POSTs', async () => {
    const target = await httpTarget(certs().server);
    await addDrain('bulk', `https://localhost:${target.port}/ingest?ca=${certs().caFile}&batch=20`, '-f', 'bulk');
    await until(async () => (await statusRow('bulk')).includes('RUNNING'), 'the https drain RUNNING');
    const input = Array.from({ length: 50 }, (_, i) => `event ${i}`).join('\n') + '\n';
    expect((await node.cli(['publish', 'bulk.job'], { input })).code).toBe(0);
    const lines = (): string[] => target.posts.flatMap((post) => post.body.trimEnd().split('\n'));
    await until(() => lines().length === 50, '50 events posted');

    expect(lines().map((line) => JSON.parse(line).text)).toEqual(Array.from({ length: 50 }, (_, i) => `event ${i}`));
    expect(target.posts.length).toBeLessThan(50);
    expect(target.posts.every((post) => post.url === '/ingest' && post.headers['content-type'] === 'application/x-ndjson')).toBe(true);
    await until(async () => /^bulk\s+tls-node\s+RUNNING\s+50\s+0\s*$/.test(await statusRow('bulk')), 'SENT 50 in drain status');
  });

  it('http: a 400 makes the drain FATAL with the status in `logyard drain status`', async () => {
    const target = await httpTarget();
    target.answer(400, 'unknown token');
    await addDrain('refused', `http://ingest:t0ken@127.0.0.1:${target.port}/logs`, '-f', 'refused');
    await until(async () => (await statusRow('refused')).includes('RUNNING'), 'the http drain RUNNING');
    expect((await node.cli(['publish', 'refused.app', 'not welcome'])).code).toBe(0);

    const expected = `HTTP 400 Bad Request from http://127.0.0.1:${target.port}/logs: unknown token`;
    await until(async () => (await statusRow('refused')).includes('FATAL'), 'the drain FATAL');
    expect(await statusRow('refused')).toMatch(new RegExp(`^refused\\s+tls-node\\s+FATAL\\s+0\\s+0\\s+${expected.replace(/[./]/g, '\\$&')}$`));
    const rows = JSON.parse((await node.cli(['drain', 'status', 'refused', '--json'])).stdout);
    expect(rows).toMatchObject([{ drain: 'refused', node_id: 'tls-node', state: 'FATAL', error: expected }]);
    expect(target.posts).toHaveLength(1);
    expect(target.posts[0].headers.authorization).toBe(`Basic ${Buffer.from('ingest:t0ken').toString('base64')}`);
    expect((await node.cli(['drain', 'list'])).stdout).toContain(`http://ingest:***@127.0.0.1:${target.port}/logs`);
  });

  it('rate and burst: a flooding key is cut with notices, a quiet key loses nothing', async () => {
    const target = await new TcpTarget().listen();
    closers.push(target);
    // One token every 2 s: the 50 lines of one publish arrive long before a second token.
    await addDrain('limited', `tcp://127.0.0.1:${target.port}`, '-f', 'flood', '-f', 'quiet', 'rate=0.5', 'burst=5', '--format', '{{key}} {{text}}');
    await until(async () => (await statusRow('limited')).includes('RUNNING'), 'the drain RUNNING');
    const flood = Array.from({ length: 50 }, (_, i) => `flood ${i}`).join('\n') + '\n';
    expect((await node.cli(['publish', 'flood.app'], { input: flood })).code).toBe(0);
    expect((await node.cli(['publish', 'quiet.app', 'quiet 1', 'quiet 2', 'quiet 3'])).code).toBe(0);
    await until(() => target.lines.some((line) => line.includes('logyard: dropped')), 'the end-of-drops notice', 20_000);

    expect(target.lines.filter((line) => line.startsWith('quiet.app'))).toEqual(['quiet.app quiet 1', 'quiet.app quiet 2', 'quiet.app quiet 3']);
    expect(target.lines.filter((line) => line.startsWith('flood.app'))).toEqual(Array.from({ length: 5 }, (_, i) => `flood.app flood ${i}`));
    const notices = target.lines.filter((line) => line.startsWith('logyard.notice'));
    expect(notices[0]).toBe('logyard.notice logyard: beginning to drop events from flood.app (rate limit 0.5/s)');
    expect(notices[1]).toMatch(/^logyard\.notice logyard: dropped 45 events from flood\.app since \S+ \(rate limit 0\.5\/s\)$/);
    expect(target.lines.indexOf(notices[0])).toBe(5); // right where the gap begins
    await until(async () => {
      const [row] = JSON.parse((await node.cli(['drain', 'status', 'limited', '--json'])).stdout);
      return row?.dropped?.rate_limit === 45 && row.sent === 8;
    }, 'the drops counted per reason in drain status');
  });

  it('drain add refuses bad TLS, rate, buffer, disk and filter params naming them (exit 2)', async () => {
    const cases: Array<[string[], string]> = [
      [['https://h/?ca=certs/ca.pem'], 'drain URI: bad value for ca: "certs/ca.pem"'],
      [['syslog+tls://h', 'ca=/ca.pem', 'insecure=true'], 'drain URI: params "ca" and "insecure=true" contradict each other'],
      [['tcp://h:1', 'rate=0'], 'drain URI: bad value for rate: "0" (events/s, a number > 0)'],
      [['tcp://h:1', 'burst=5'], 'drain URI: param "burst" needs "rate" (events/s)'],
      [['http://h/', 'batch=many'], 'drain URI: bad value for batch: "many"'],
      [['tls://h:1', 'disk=1MiB'], 'drain URI: bad value for disk: "1MiB" (at least 16MiB)'],
      [['tcp://h:1', 'buffer=10000000000'], 'drain URI: bad value for buffer: "10000000000" (events, 1 to 10000000)'],
      [['tcp://h:1?filter=a..b'], 'drain URI: filter "a..b" has an empty segment'],
      [['tcp://h:1', '-f', '..'], 'drain URI: filter ".." starts with a dot'],
    ];
    for (const [args, message] of cases) {
      const result = await node.cli(['drain', 'add', 'bad', ...args]);
      expect(result.code).toBe(2);
      expect(result.stderr).toContain(message);
      expect(result.stderr.trim().split('\n')).toHaveLength(1);
    }
  });
});
