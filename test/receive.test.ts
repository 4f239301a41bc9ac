import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { createSocket as createUdpSocket } from 'node:dgram';
import { request } from 'node:http';
import { connect, createServer } from 'node:net';
import { join } from 'node:path';
import unixDgram from 'unix-dgram';
import { TcpTarget, TestNode, until } from './helpers/cli.js';
import { NodeProcess, writeNodeConfig } from './helpers/clients.js';

const DOCKER_3164 = '<30>Nov 20 10:00:00 host web-7f9c[123]: GET /health 200';
const RFC_5424 =
  '<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 [exampleSDID@32473 iut="3" eventSource="Application"] \uFEFFAn application event';

/** GET `path` from the core's status API on its unix socket. */
function getStatusSocket(runDir: string, path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath: join(runDir, 'status.sock'), path }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (c: string) => (body += c));
      res.on('end', () => resolve(body));
    });
    req.on('error', reject);
    req.end();
  });
}

function sendTcp(port: number, data: string | Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    const s = connect(port, '127.0.0.1', () => s.end(data));
    s.on('close', () => resolve());
    s.on('error', reject);
  });
}

function sendUdp(port: number, datagrams: Array<string | Buffer>): Promise<void> {
  const s = createUdpSocket('udp4');
  return new Promise((resolve, reject) => {
    let left = datagrams.length;
    for (const d of datagrams) {
      s.send(d, port, '127.0.0.1', (err) => {
        if (err) reject(err);
        if (--left === 0) s.close(() => resolve());
      });
    }
  });
}

function sendUnixgram(path: string, messages: string[]): void {
  const s = unixDgram.createSocket('unix_dgram');
  for (const m of messages) {
    const buf = Buffer.from(m);
    s.send(buf, 0, buf.length, path);
  }
  s.close();
}

/** `logyard receive` (issue 6) between real senders and a real core with a tcp drain. */
describe('logyard receive', () => {
  const node = new TestNode('rx-node');
  const target = new TcpTarget();
  const unixgramPath = join(node.root, 'syslog.sock');
  const unixPath = join(node.root, 'syslog-stream.sock');
  let receive: NodeProcess;
  const ports: Record<string, number> = {};

  const clientStats = async (): Promise<any> => {
    const r = await node.cli(['status', '--json']);
    expect(r.code).toBe(0);
    return JSON.parse(r.stdout).clients.find((c: { client: string }) => c.client === 'receive');
  };
  const ofKey = (key: string): any[] => target.rawEvents.filter((r) => r.key === key).map((r) => r.event);

  beforeAll(async () => {
    await node.startCore();
    await target.listen();
    const add = await node.cli(['drain', 'add', 'rx', `tcp://127.0.0.1:${target.port}`, '-f', 'syslog', '-f', 'app', '--format', 'raw']);
    expect(add.code).toBe(0);
    await until(async () => (await node.drainStatus('rx'))?.state === 'RUNNING', 'drain rx RUNNING');
    const config = writeNodeConfig(node, ['max_event: 2KiB', 'receive:', '  rate: 20', '  burst: 20', '  json_key_prefix: app'].join('\n') + '\n');
    receive = new NodeProcess(node, [
      '-c', config, 'receive',
      '--syslog', 'tcp://127.0.0.1:0',
      '--syslog', 'udp://127.0.0.1:0',
      '--syslog', `unixgram://${unixgramPath}`,
      '--syslog', `unix://${unixPath}`,
      '--json', 'udp://127.0.0.1:0',
    ]);
    await receive.logged(/receive: started/);
    for (const m of receive.log.matchAll(/(syslog|json) listening on (tcp|udp):\/\/127\.0\.0\.1:(\d+)/g)) ports[`${m[1]} ${m[2]}`] = Number(m[3]);
    expect(Object.keys(ports).sort()).toEqual(['json udp', 'syslog tcp', 'syslog udp']);
  });
  afterAll(async () => {
    await receive?.stop('SIGKILL');
    await target.close();
    await node.cleanup();
  });

  it('publishes a Docker RFC 3164 line and an RFC 5424 line sent over TCP as syslog.<app> with text and syslog fields', async () => {
    await sendTcp(ports['syslog tcp'], `${DOCKER_3164}\n${RFC_5424}\n`);
    await until(() => ofKey('syslog.web-7f9c').length === 1 && ofKey('syslog.evntslog').length === 1, 'both lines');
    const [docker] = ofKey('syslog.web-7f9c');
    expect(docker).toMatchObject({
      text: 'GET /health 200',
      node_id: 'rx-node',
      syslog: { facility: 'daemon', severity: 'info', hostname: 'host', appname: 'web-7f9c', procid: '123', msgid: null, timestamp: 'Nov 20 10:00:00' },
    });
    expect(typeof docker.unix_time).toBe('number');
    const [rfc5424] = ofKey('syslog.evntslog');
    expect(rfc5424).toMatchObject({
      text: 'An application event',
      syslog: {
        facility: 'local4', severity: 'notice', hostname: 'mymachine.example.com', appname: 'evntslog', procid: null, msgid: 'ID47',
        timestamp: '2003-10-11T22:14:15.003Z', structured_data: { 'exampleSDID@32473': { iut: '3', eventSource: 'Application' } },
      },
    });
  });

  it('reads octet-counted frames (RFC 6587) and lines mixed on one connection, split across writes', async () => {
    const frame = (m: string): string => `${Buffer.byteLength(m)} ${m}`;
    const multiLine = '<14>1 - h tcp-octet - - - first line\nsecond line';
    const wire = Buffer.from(frame(multiLine) + '<14>Nov 20 10:00:01 h tcp-octet: a plain line\n' + frame('<14>1 - h tcp-octet - - - héllo €'));
    await new Promise<void>((resolve, reject) => {
      const s = connect(ports['syslog tcp'], '127.0.0.1', async () => {
        // One byte at a time for the first frame: the framing must not depend on how TCP cuts.
        for (let i = 0; i < 20; i++) await new Promise<void>((r) => s.write(wire.subarray(i, i + 1), () => r()));
        s.end(wire.subarray(20));
      });
      s.on('close', () => resolve());
      s.on('error', reject);
    });
    await until(() => ofKey('syslog.tcp-octet').length === 3, 'three tcp-octet events');
    expect(ofKey('syslog.tcp-octet').map((e) => e.text)).toEqual(['first line\nsecond line', 'a plain line', 'héllo €']);
  });

  it('receives syslog over udp, unixgram and unix stream sockets', async () => {
    await sendUdp(ports['syslog udp'], ['<11>Nov 20 10:00:00 host over-udp[7]: by datagram\n']);
    sendUnixgram(unixgramPath, ['<13>Nov 20 10:00:00 over-unixgram[8]: by unix datagram']);
    // glibc's syslog() over a stream socket ends each message with NUL; others use newlines.
    await new Promise<void>((resolve, reject) => {
      const s = connect({ path: unixPath }, () => s.end('<13>Nov 20 10:00:00 over-unix[9]: nul ended\0<13>Nov 20 10:00:00 over-unix[9]: newline ended\n<13>Nov 20 10:00:00 over-unix[9]: a NUL\0inside\n'));
      s.on('close', () => resolve());
      s.on('error', reject);
    });
    await until(() => ofKey('syslog.over-udp').length === 1 && ofKey('syslog.over-unixgram').length === 1 && ofKey('syslog.over-unix').length === 3, 'udp, unixgram and unix events');
    expect(ofKey('syslog.over-udp')[0]).toMatchObject({ text: 'by datagram', syslog: { facility: 'user', severity: 'err', procid: '7' } });
    expect(ofKey('syslog.over-unixgram')[0]).toMatchObject({ text: 'by unix datagram', syslog: { hostname: null, procid: '8' } });
    // A NUL inside a line does not cut it (it ends a message only before the next one).
    expect(ofKey('syslog.over-unix').map((e) => e.text)).toEqual(['nul ended', 'newline ended', 'a NUL\0inside']);
  });

  it('cuts a tag flooding at 10x its rate, tells it in its own stream, and the quiet tag next to it loses nothing', async () => {
    // rate 20/s: the flood sends 200/s for 1.5 s, the quiet tag 10/s, on one connection.
    const flood = 300;
    const quiet = 15;
    await new Promise<void>((resolve, reject) => {
      const s = connect(ports['syslog tcp'], '127.0.0.1', async () => {
        let sent = 0;
        for (let tick = 0; tick < 30; tick++) {
          let chunk = '';
          for (let i = 0; i < 10; i++) chunk += `<13>Nov 20 10:00:00 host flood[1]: flood ${sent++}\n`;
          if (tick % 2 === 0) chunk += `<13>Nov 20 10:00:00 host quiet[2]: quiet ${tick / 2}\n`;
          s.write(chunk);
          await new Promise((r) => setTimeout(r, 50));
        }
        s.end();
      });
      s.on('close', () => resolve());
      s.on('error', reject);
    });
    await until(() => ofKey('syslog.quiet').length === quiet, 'every quiet event');
    expect(ofKey('syslog.quiet').map((e) => e.text)).toEqual(Array.from({ length: quiet }, (_, i) => `quiet ${i}`));

    // Once the flood stops, the last count is told (within a second, by the limiter's flush).
    const floodEvents = (): any[] => ofKey('syslog.flood');
    const begins = (): any[] => floodEvents().filter((e) => e.text === 'logyard: beginning to drop events from syslog.flood (rate limit 20/s)');
    const ends = (): any[] => floodEvents().filter((e) => /^logyard: dropped \d+ events from syslog\.flood since \S+ \(rate limit 20\/s\)$/.test(e.text));
    const passed = (): number => floodEvents().filter((e) => /^flood \d+$/.test(e.text)).length;
    const counted = (): number => ends().reduce((n, e) => n + Number(/dropped (\d+) events/.exec(e.text)![1]), 0);
    await until(() => passed() + counted() === flood, 'every flood event passed or counted in a notice');
    const dropped = counted();
    // One flood, told once as it begins; its count comes at most once a second while it lasts.
    expect(begins()).toHaveLength(1);
    expect(ends().length).toBeLessThanOrEqual(4);
    expect(passed()).toBeLessThan(flood / 2);
    expect(floodEvents()[0].text).toMatch(/^flood 0$/);
    // The notices went only into the flood's stream.
    expect(target.rawEvents.filter((r) => /logyard: /.test(r.event.text)).every((r) => r.key === 'syslog.flood')).toBe(true);
    const stats = await until(async () => {
      const s = await clientStats();
      return s?.rateLimited === dropped ? s : null;
    }, 'rateLimited in logyard status');
    expect(stats.running).toBe(true);
  });

  it('takes UDP JSON one object per datagram and several lines per datagram, keeps fields, counts malformed input and keeps running', async () => {
    const port = ports['json udp'];
    await sendUdp(port, [
      JSON.stringify({ name: 'orders', text: 'order placed', order: 42, tags: ['eu'] }),
      '{"name":"orders","text":"line one"}\n{"name":"billing","message":"from message","amount":9.5}\n\n{"name":"orders","text":"line three"}\n',
      'this is not json',
      '[1,2,3]',
      '{"text":"no name"}',
      '{"name":"bad name!"}\n{"name":"orders","text":"after a bad line"}',
      // Docker's gzip GELF sent to the JSON listener by mistake: one malformed datagram, whatever bytes it holds.
      Buffer.concat([Buffer.from([0x1f, 0x8b, 0x08, 0x00, 0x0a]), Buffer.from('{"name":"x"}\n'), Buffer.from([0xff, 0x0a, 0xfe])]),
    ]);
    await until(() => ofKey('app.orders').length === 4 && ofKey('app.billing').length === 1, 'five JSON events');
    expect(ofKey('app.orders').map((e) => e.text).sort()).toEqual(['after a bad line', 'line one', 'line three', 'order placed']);
    expect(ofKey('app.orders').find((e) => e.text === 'order placed')).toMatchObject({ name: 'orders', order: 42, tags: ['eu'], node_id: 'rx-node' });
    expect(ofKey('app.billing')[0]).toMatchObject({ text: 'from message', message: 'from message', amount: 9.5 });

    const stats = await until(async () => {
      const s = await clientStats();
      return s?.malformed?.invalid_name === 1 && s?.malformed?.invalid_json === 2 ? s : null;
    }, 'malformed counts in logyard status --json');
    expect(stats.malformed).toMatchObject({ invalid_json: 2, not_object: 1, missing_name: 1, invalid_name: 1 });
    expect(stats.listeners).toContain(`json udp://127.0.0.1:${port}`);
    expect(stats).toMatchObject({ kernelDrops: 0, dropped: 0 });

    await sendUdp(port, ['{"name":"orders","text":"still here"}']);
    await until(() => ofKey('app.orders').some((e) => e.text === 'still here'), 'an event after the malformed ones');
    const text = await node.cli(['status']);
    expect(text.stdout).toMatch(/^client {4}receive: running, pid \d+; .*"invalid_json":2/m);
  });

  it('counts malformed syslog by reason and drops it; a line without <PRI> is kept as user.notice', async () => {
    await sendTcp(ports['syslog tcp'], 'no priority here\n<999>Nov 20 10:00:00 host app: bad pri\n<13>1 2024-01-01T00:00:00Z host\n0 \n<13>Nov 20 10:00:00 host after-bad: fine\n');
    await until(() => ofKey('syslog.after-bad').length === 1, 'the good line after the bad ones');
    expect(ofKey('syslog.unknown')).toMatchObject([{ text: 'no priority here', syslog: { facility: 'user', severity: 'notice' } }]);
    const stats = await until(async () => {
      const s = await clientStats();
      return s?.malformed?.bad_frame === 1 ? s : null;
    }, 'malformed syslog counted');
    expect(stats.malformed).toMatchObject({ bad_priority: 1, bad_header: 1, bad_frame: 1 });
    expect(stats.malformed.no_priority).toBeUndefined();
  });

  it('splits a syslog message longer than max_event into events of at most max_event bytes; refuses a longer JSON object or structured data', async () => {
    // 2KiB in the config. Quotes, backslashes, tabs and non-ASCII make the event longer than the text.
    const text = Array.from({ length: 400 }, (_, i) => `w${i} "é\\\t€`).join(' ');
    expect(Buffer.byteLength(text)).toBeGreaterThan(5000);
    await sendTcp(ports['syslog tcp'], `<13>Nov 20 10:00:00 host big-line: ${text}\n<13>Nov 20 10:00:00 host big-line: after\n`);
    const counted = `<13>1 - host big-count - - - ${text}`;
    await sendTcp(ports['syslog tcp'], `${Buffer.byteLength(counted)} ${counted}`);
    await sendUdp(ports['syslog udp'], [`<13>Nov 20 10:00:00 host big-udp: ${text}`]);
    await sendUdp(ports['json udp'], [JSON.stringify({ name: 'big', text }), JSON.stringify({ name: 'big', text: 'small' })]);
    // Structured data alone longer than max_event: no piece of text can carry it.
    await sendUdp(ports['syslog udp'], [`<13>1 - host big-sd - - [x a="${'y'.repeat(3000)}"] text`]);

    const lines = (key: string): string[] => target.lines.filter((l) => l.startsWith(`${key} `)).map((l) => l.slice(key.length + 1));
    const joined = (key: string): string => lines(key).map((l) => JSON.parse(l).text).join('');
    await until(() => joined('syslog.big-line') === text + 'after' && joined('syslog.big-count') === text && joined('syslog.big-udp') === text, 'the pieces of the three long messages');
    for (const key of ['syslog.big-line', 'syslog.big-count', 'syslog.big-udp']) {
      expect(lines(key).length).toBeGreaterThan(3);
      for (const line of lines(key)) expect(Buffer.byteLength(line)).toBeLessThanOrEqual(2048);
      expect(new Set(lines(key).map((l) => JSON.stringify(JSON.parse(l).syslog))).size).toBe(1);
    }
    expect(JSON.parse(lines('syslog.big-line').at(-1)!).text).toBe('after');
    await until(() => ofKey('app.big').length === 1, 'the small JSON event after the long one');
    expect(ofKey('app.big')[0].text).toBe('small');
    const stats = await until(async () => {
      const s = await clientStats();
      return s?.malformed?.too_long === 2 && s.split === 3 ? s : null;
    }, 'too_long counted: 3 split, 2 refused');
    expect(ofKey('syslog.big-sd')).toEqual([]);
    expect(stats.split).toBe(3);

    // The core's /metrics shows receive's counters, read from the same file.
    const metrics = await until(async () => {
      const body = await getStatusSocket(node.runDir, '/metrics');
      return /^logyard_client_split_total\{client="receive"\} 3$/m.test(body) ? body : null;
    }, 'receive counters in /metrics');
    expect(metrics).toMatch(/^logyard_client_malformed_total\{client="receive",reason="too_long"\} 2$/m);
    expect(metrics).toMatch(/^logyard_client_malformed_total\{client="receive",reason="bad_priority"\} 1$/m);
    expect(metrics).toMatch(/^logyard_client_received_total\{client="receive"\} [1-9]\d*$/m);
    expect(metrics).toMatch(/^logyard_client_rate_limited_total\{client="receive"\} [1-9]\d*$/m);
    expect(metrics).toMatch(/^logyard_client_kernel_drops_total\{client="receive"\} 0$/m);
  });

  it('on SIGTERM exits 0 and removes its unix socket files', async () => {
    const { code } = await receive.stop('SIGTERM');
    expect(code).toBe(0);
    expect(receive.log).toMatch(/receive: stopped/);
    expect(existsSync(unixgramPath)).toBe(false);
    expect(existsSync(unixPath)).toBe(false);
  });
});

describe('logyard receive: startup errors', () => {
  const node = new TestNode('rx-errors');
  afterAll(() => node.cleanup());

  it('a taken port is a runtime failure (exit 1) naming the URI', async () => {
    const taken = createServer();
    await new Promise<void>((r) => taken.listen(0, '127.0.0.1', () => r()));
    const port = (taken.address() as { port: number }).port;
    try {
      const r = await node.cli(['receive', '--syslog', 'udp://127.0.0.1:0', '--syslog', `tcp://127.0.0.1:${port}`]);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain(`cannot listen on tcp://127.0.0.1:${port}: the address is already in use (EADDRINUSE)`);
      expect(r.stderr).not.toMatch(/\n\s+at /);
    } finally {
      taken.close();
    }
  });

  it('a bad URI, an address not of this machine or no listener at all is bad usage (exit 2)', async () => {
    const bad = await node.cli(['receive', '--syslog', 'tcp://127.0.0.1']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/listener "tcp:\/\/127\.0\.0\.1": "127\.0\.0\.1" is not HOST:PORT/);
    const scheme = await node.cli(['receive', '--json', 'http://127.0.0.1:80']);
    expect(scheme.code).toBe(2);
    expect(scheme.stderr).toMatch(/unknown scheme "http"/);
    const foreign = await node.cli(['receive', '--syslog', 'udp://192.0.2.1:5514']);
    expect(foreign.code).toBe(2);
    expect(foreign.stderr).toMatch(/cannot listen on udp:\/\/192\.0\.2\.1:5514: the address is not one of this machine/);
    const none = await node.cli(['receive']);
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/nothing to receive/);
    const config = writeNodeConfig(node, 'receive:\n  syslog: [ftp://x]\n', 'bad.yaml');
    const inConfig = await node.cli(['-c', config, 'receive']);
    expect(inConfig.code).toBe(2);
    expect(inConfig.stderr).toMatch(/receive\.syslog/);
  });
});

describe('logyard start with receive in clients', () => {
  const node = new TestNode('rx-start');
  const target = new TcpTarget();
  let start: NodeProcess | null = null;
  afterAll(async () => {
    // SIGTERM: start stops its core and receive before exiting; after a SIGKILL they would write into the directory being removed.
    await start?.stop('SIGTERM');
    await target.close();
    await node.cleanup();
  });

  it('runs the receiver configured in receive: beside the core', async () => {
    const sock = join(node.root, 'dev-log.sock');
    const config = writeNodeConfig(node, ['clients: [receive]', 'receive:', `  syslog: [unixgram://${sock}]`].join('\n') + '\n');
    start = new NodeProcess(node, ['-c', config, 'start']);
    await start.logged(/receive: started/);
    expect(start.log).not.toMatch(/not built/);
    await target.listen();
    expect((await node.cli(['drain', 'add', 'all', `tcp://127.0.0.1:${target.port}`, '--filter', 'syslog'])).code).toBe(0);
    await until(async () => (await node.drainStatus('all'))?.state === 'RUNNING', 'drain RUNNING');
    sendUnixgram(sock, ['<13>Nov 20 10:00:00 started-app: via logyard start']);
    await until(() => target.events.some((e) => e.text === 'via logyard start' && e.syslog.appname === 'started-app'), 'the event');
  });
});
