import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { TcpTarget, TestNode, until } from './helpers/cli.js';
import { NodeProcess } from './helpers/clients.js';

/** What real senders nobody here wrote deliver through `logyard receive`: util-linux logger, Python's SysLogHandler, rsyslog. */

/** rsyslogd is in /usr/sbin, which a user's PATH may not have. */
const RSYSLOGD = existsSync('/usr/sbin/rsyslogd') ? '/usr/sbin/rsyslogd' : 'rsyslogd';
/** What rsyslog and logger --rfc3164 write as HOSTNAME. */
const shortHostname = hostname().split('.')[0];

interface Run {
  code: number | null;
  stderr: string;
}

/** Runs a program to its end. */
function run(command: string, args: string[], input = ''): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['pipe', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stderr }));
    // A child that exits without reading its input closes the pipe: its exit code tells what
    // happened, so EPIPE on our side is not an error of the test.
    child.stdin.on('error', () => {});
    child.stdin.end(input);
  });
}

async function ok(command: string, args: string[], input = ''): Promise<void> {
  const r = await run(command, args, input);
  if (r.code !== 0) throw new Error(`${command} ${args.join(' ')} exited ${r.code}: ${r.stderr}`);
}

/** Python's logging.handlers.SysLogHandler as applications use it: one handler, a few records, closed. */
const PYTHON_SENDER = `
import logging, logging.handlers, socket, sys
kind, where, ident = sys.argv[1], sys.argv[2], sys.argv[3]
if kind == 'unix':
    handler = logging.handlers.SysLogHandler(address=where)
else:
    host, port = where.rsplit(':', 1)
    handler = logging.handlers.SysLogHandler(address=(host, int(port)), socktype=socket.SOCK_STREAM if kind == 'tcp' else socket.SOCK_DGRAM)
handler.ident = ident + ': '
log = logging.getLogger(ident)
log.addHandler(handler)
log.warning('first record')
log.error('second record')
print('sent', flush=True)
sys.stdin.read()  # the connection stays open until the test closes stdin
handler.close()
`;

describe('logyard receive with real senders', () => {
  const node = new TestNode('rx-real');
  const target = new TcpTarget();
  const unixgramPath = join(node.root, 'dgram.sock');
  const unixPath = join(node.root, 'stream.sock');
  let receive: NodeProcess;
  let tcpPort = 0;
  let udpPort = 0;
  const others: ChildProcess[] = [];

  const events = (key: string): any[] =>
    target.lines
      .map((l) => ({ key: l.slice(0, l.indexOf(' ')), event: JSON.parse(l.slice(l.indexOf(' ') + 1)) }))
      .filter((r) => r.key === key)
      .map((r) => r.event);

  beforeAll(async () => {
    await node.startCore();
    await target.listen();
    expect((await node.cli(['drain', 'add', 'rx', `tcp://127.0.0.1:${target.port}`, '-f', 'syslog', '--format', 'raw'])).code).toBe(0);
    await until(async () => (await node.drainStatus('rx'))?.state === 'RUNNING', 'drain rx RUNNING');
    receive = new NodeProcess(node, [
      'receive',
      '--syslog', 'tcp://127.0.0.1:0',
      '--syslog', 'udp://127.0.0.1:0',
      '--syslog', `unixgram://${unixgramPath}`,
      '--syslog', `unix://${unixPath}`,
    ]);
    await receive.logged(/receive: started/);
    tcpPort = Number(/syslog listening on tcp:\/\/127\.0\.0\.1:(\d+)/.exec(receive.log)![1]);
    udpPort = Number(/syslog listening on udp:\/\/127\.0\.0\.1:(\d+)/.exec(receive.log)![1]);
  });
  afterAll(async () => {
    for (const child of others) child.kill('SIGKILL');
    await receive?.stop('SIGKILL');
    await target.close();
    await node.cleanup();
  });

  describe('util-linux logger', () => {
    it('--tcp with a two-line message: the first line as sent, the second (no <PRI>) kept as user.notice', async () => {
      await ok('logger', ['--tcp', '-n', '127.0.0.1', '-P', String(tcpPort), '-t', 'lg-tcp', 'first of two\nsecond of two']);
      await until(() => events('syslog.lg-tcp').length === 1 && events('syslog.unknown').some((e) => e.text === 'second of two'), 'both lines');
      expect(events('syslog.lg-tcp')[0]).toMatchObject({
        text: 'first of two',
        syslog: { facility: 'user', severity: 'notice', appname: 'lg-tcp', hostname: hostname(), structured_data: { timeQuality: { tzKnown: '1' } } },
      });
      expect(events('syslog.unknown').find((e) => e.text === 'second of two')).toMatchObject({
        syslog: { facility: 'user', severity: 'notice', hostname: null, appname: null, timestamp: null },
      });
    });

    it('--octet-count over tcp and over udp keeps a multi-line message whole', async () => {
      await ok('logger', ['--tcp', '--octet-count', '-n', '127.0.0.1', '-P', String(tcpPort), '-t', 'lg-count', 'tcp line 1\ntcp line 2']);
      await ok('logger', ['--udp', '--octet-count', '-n', '127.0.0.1', '-P', String(udpPort), '-t', 'lg-count', 'udp line 1\nudp line 2']);
      await until(() => events('syslog.lg-count').length === 2, 'two lg-count events');
      expect(events('syslog.lg-count').map((e) => e.text).sort()).toEqual(['tcp line 1\ntcp line 2', 'udp line 1\nudp line 2']);
      expect(events('syslog.lg-count').every((e) => e.syslog.appname === 'lg-count' && e.syslog.severity === 'notice')).toBe(true);
    });

    it('a 2.5 MB message, octet-counted and as a line, arrives as events of at most max_event (1 MiB by default) whose texts join into it', async () => {
      const text = randomBytes(1_900_000).toString('base64');
      await ok('logger', ['--tcp', '--octet-count', '--size', '3000000', '-n', '127.0.0.1', '-P', String(tcpPort), '-t', 'lg-big-count'], text + '\n');
      await ok('logger', ['--tcp', '--size', '3000000', '-n', '127.0.0.1', '-P', String(tcpPort), '-t', 'lg-big-line'], text + '\n');
      for (const key of ['syslog.lg-big-count', 'syslog.lg-big-line']) {
        const lines = (): string[] => target.lines.filter((l) => l.startsWith(`${key} `)).map((l) => l.slice(key.length + 1));
        await until(() => lines().map((l) => JSON.parse(l).text).join('') === text, `the pieces of ${key}`);
        expect(lines()).toHaveLength(3);
        for (const line of lines()) expect(Buffer.byteLength(line)).toBeLessThanOrEqual(1024 * 1024);
      }
    });

    it('--rfc3164 over udp, tcp and the unix datagram socket, with -p and -i', async () => {
      await ok('logger', ['--udp', '--rfc3164', '-n', '127.0.0.1', '-P', String(udpPort), '-t', 'lg-bsd', '-p', 'local3.err', 'by udp']);
      await ok('logger', ['--tcp', '--rfc3164', '-n', '127.0.0.1', '-P', String(tcpPort), '-t', 'lg-bsd', '-p', 'mail.info', 'by tcp']);
      await ok('logger', ['-u', unixgramPath, '--rfc3164', '-t', 'lg-bsd', '--id=4242', 'by unixgram']);
      await until(() => events('syslog.lg-bsd').length === 3, 'three lg-bsd events');
      const byText = Object.fromEntries(events('syslog.lg-bsd').map((e) => [e.text, e.syslog]));
      expect(byText['by udp']).toMatchObject({ facility: 'local3', severity: 'err', appname: 'lg-bsd', hostname: shortHostname });
      expect(byText['by tcp']).toMatchObject({ facility: 'mail', severity: 'info' });
      expect(byText['by unixgram']).toMatchObject({ procid: '4242' });
    });
  });

  describe("Python's logging.handlers.SysLogHandler", () => {
    /** Starts the sender; resolves once it has logged both records, while its socket is still open. */
    const python = async (kind: string, where: string, ident: string): Promise<ChildProcess> => {
      const child = spawn('python3', ['-c', PYTHON_SENDER, kind, where, ident], { stdio: ['pipe', 'pipe', 'pipe'] });
      others.push(child);
      let out = '';
      child.stdout!.setEncoding('utf8').on('data', (c: string) => (out += c));
      child.stderr!.setEncoding('utf8').on('data', (c: string) => (out += c));
      await until(() => {
        if (child.exitCode !== null) throw new Error(`python3 exited ${child.exitCode}: ${out}`);
        return out.includes('sent');
      }, `python3 ${kind} sender`);
      return child;
    };
    const closed = (child: ChildProcess): Promise<number | null> =>
      new Promise((resolve) => {
        child.once('exit', (code) => resolve(code));
        child.stdin!.end();
      });

    it('over tcp: each NUL-ended record arrives while the connection is still open', async () => {
      const child = await python('tcp', `127.0.0.1:${tcpPort}`, 'py-tcp');
      await until(() => events('syslog.py-tcp').length === 2, 'both records before the sender closes');
      expect(child.exitCode).toBeNull();
      expect(events('syslog.py-tcp')).toMatchObject([
        { text: 'first record', syslog: { facility: 'user', severity: 'warning', appname: 'py-tcp' } },
        { text: 'second record', syslog: { facility: 'user', severity: 'err', appname: 'py-tcp' } },
      ]);
      expect(await closed(child)).toBe(0);
    });

    it('over udp and over unix datagram and stream sockets', async () => {
      const senders = [
        await python('udp', `127.0.0.1:${udpPort}`, 'py-udp'),
        await python('unix', unixgramPath, 'py-unixgram'),
        // On a stream socket the handler falls back from SOCK_DGRAM to SOCK_STREAM and ends records with NUL.
        await python('unix', unixPath, 'py-unix'),
      ];
      for (const key of ['syslog.py-udp', 'syslog.py-unixgram', 'syslog.py-unix']) {
        await until(() => events(key).length === 2, `both records of ${key}`);
        expect(events(key).map((e) => e.text)).toEqual(['first record', 'second record']);
      }
      for (const child of senders) expect(await closed(child)).toBe(0);
    });
  });

  describe('rsyslog forwarding to the receiver', () => {
    let rsyslogd: ChildProcess | null = null;
    let rsyslogLog = '';
    const dir = join(node.root, 'rsyslog');
    const socket = join(dir, 'log.sock');

    beforeAll(async () => {
      mkdirSync(dir);
      // Its own socket (imuxsock, like /dev/log), two forwarding actions: RFC 5424 octet-counted, and
      // the traditional RFC 3164 lines rsyslog forwards by default.
      const config = join(dir, 'rsyslog.conf');
      writeFileSync(
        config,
        [
          `global(workDirectory="${dir}")`,
          'module(load="imuxsock" SysSock.Use="off")',
          `input(type="imuxsock" Socket="${socket}")`,
          `action(type="omfwd" target="127.0.0.1" port="${tcpPort}" protocol="tcp" TCP_Framing="octet-counted" template="RSYSLOG_SyslogProtocol23Format")`,
          `action(type="omfwd" target="127.0.0.1" port="${tcpPort}" protocol="tcp")`,
          '',
        ].join('\n'),
      );
      rsyslogd = spawn(RSYSLOGD, ['-n', '-f', config, '-i', join(dir, 'rsyslogd.pid')], { stdio: ['ignore', 'pipe', 'pipe'] });
      others.push(rsyslogd);
      rsyslogd.stdout!.setEncoding('utf8').on('data', (c: string) => (rsyslogLog += c));
      rsyslogd.stderr!.setEncoding('utf8').on('data', (c: string) => (rsyslogLog += c));
      await until(() => {
        if (rsyslogd!.exitCode !== null) throw new Error(`rsyslogd exited ${rsyslogd!.exitCode}: ${rsyslogLog}`);
        try {
          // Its pid file written and its socket bound: a message sent now is read.
          return readFileSync(join(dir, 'rsyslogd.pid'), 'utf8').trim() === String(rsyslogd!.pid) && existsSync(socket);
        } catch {
          return false;
        }
      }, 'rsyslogd to start');
    });
    afterAll(async () => {
      // Gone before the node's directory, which holds its work directory, is removed.
      if (rsyslogd && rsyslogd.exitCode === null && rsyslogd.signalCode === null) {
        const exited = new Promise((resolve) => rsyslogd!.once('exit', resolve));
        rsyslogd.kill('SIGTERM');
        await exited;
      }
    });

    it('forwards in RFC 5424 (octet-counted) and in RFC 3164 (lines) what a program logged to its socket', async () => {
      await ok('logger', ['-u', socket, '-t', 'rs-app', '-p', 'daemon.warning', 'through rsyslog']);
      await until(() => events('syslog.rs-app').length === 2, 'both forwarded copies');
      const copies = events('syslog.rs-app');
      const rfc5424 = copies.find((e) => /^\d{4}-/.test(e.syslog.timestamp));
      const rfc3164 = copies.find((e) => e !== rfc5424);
      // rsyslog's %msg% of a local message keeps the space that followed the tag's colon.
      expect(rfc5424).toMatchObject({ text: ' through rsyslog', syslog: { facility: 'daemon', severity: 'warning', appname: 'rs-app', hostname: shortHostname } });
      expect(rfc5424.syslog.timestamp).toMatch(/^\d{4}-\d\d-\d\dT/);
      expect(rfc3164).toMatchObject({ text: 'through rsyslog', syslog: { facility: 'daemon', severity: 'warning', appname: 'rs-app', hostname: shortHostname } });
      expect(rfc3164.syslog.timestamp).toMatch(/^[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d$/);
    });
  });
});
