import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface RunningService {
  port: number;
  dir: string;
  process: ChildProcess;
  stop(): Promise<void>;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

export async function waitForPort(port: number, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect(port, '127.0.0.1');
      s.once('connect', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`nothing listens on 127.0.0.1:${port} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** A real redis-server (from Debian's package, installed by scripts/setup.sh) on a free port. */
export async function startRedis(port?: number, dir?: string): Promise<RunningService> {
  const p = port ?? (await freePort());
  const d = dir ?? mkdtempSync(join(tmpdir(), 'logyard-redis-'));
  const proc = spawn('redis-server', ['--port', String(p), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', d], {
    stdio: 'ignore',
  });
  await waitForPort(p);
  return {
    port: p,
    dir: d,
    process: proc,
    async stop() {
      if (proc.exitCode === null && proc.signalCode === null) {
        const exited = new Promise((r) => proc.once('exit', r));
        proc.kill('SIGKILL');
        await exited;
      }
      if (!dir) rmSync(d, { recursive: true, force: true });
    },
  };
}

export interface RunningEtcd extends RunningService {
  /** The client URL, e.g. http://127.0.0.1:23790. */
  endpoint: string;
  /** The store URI for it: etcd://127.0.0.1:<port>. */
  uri: string;
  /** Kills etcd (SIGKILL) and keeps its data directory, for restart(). */
  kill(): Promise<void>;
  /** Starts etcd again on the same ports and data directory. */
  restart(): Promise<void>;
}

/**
 * A real single-member etcd (Debian's etcd-server, installed by scripts/setup.sh) on free ports,
 * with its data in a temporary directory. Resolves once it answers /health.
 */
export async function startEtcd(): Promise<RunningEtcd> {
  const port = await freePort();
  const peerPort = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'logyard-etcd-'));
  const endpoint = `http://127.0.0.1:${port}`;
  const peer = `http://127.0.0.1:${peerPort}`;
  let proc: ChildProcess;
  let log = '';
  const launch = async (): Promise<void> => {
    log = '';
    proc = spawn(
      'etcd',
      [
        '--name', 'test',
        '--data-dir', join(dir, 'data'),
        '--listen-client-urls', endpoint,
        '--advertise-client-urls', endpoint,
        '--listen-peer-urls', peer,
        '--initial-advertise-peer-urls', peer,
        '--initial-cluster', `test=${peer}`,
        '--logger', 'zap',
        '--log-level', 'error',
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    proc.stderr!.setEncoding('utf8').on('data', (c: string) => (log = (log + c).slice(-4000)));
    const deadline = Date.now() + 20_000;
    while (!(await etcdHealthy(endpoint))) {
      if (proc.exitCode !== null) throw new Error(`etcd exited with ${proc.exitCode}: ${log}`);
      if (Date.now() > deadline) throw new Error(`etcd on ${endpoint} not healthy after 20 s: ${log}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  const kill = async (): Promise<void> => {
    if (proc.exitCode === null && proc.signalCode === null) {
      const exited = new Promise((r) => proc.once('exit', r));
      proc.kill('SIGKILL');
      await exited;
    }
  };
  await launch();
  const service: RunningEtcd = {
    port,
    dir,
    endpoint,
    uri: `etcd://127.0.0.1:${port}`,
    get process() {
      return proc;
    },
    kill,
    restart: launch,
    async stop() {
      await kill();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return service;
}

async function etcdHealthy(endpoint: string): Promise<boolean> {
  try {
    const res = await fetch(`${endpoint}/health`, { signal: AbortSignal.timeout(1_000) });
    return res.ok && (JSON.parse(await res.text()) as { health?: string }).health === 'true';
  } catch {
    return false;
  }
}

/** Runs etcdctl (Debian's etcd-client) against an etcd; rejects with its output when it fails. */
export function etcdctl(endpoint: string, args: string[], input?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn('etcdctl', ['--endpoints', endpoint, ...args], { env: { ...process.env, ETCDCTL_API: '3' }, stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (out += c));
    child.stderr.setEncoding('utf8').on('data', (c: string) => (out += c));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`etcdctl ${args.join(' ')} exited ${code}: ${out}`))));
    // A child that exits without reading its input closes the pipe: its exit code tells what
    // happened, so EPIPE on our side is not an error of the test.
    child.stdin.on('error', () => {});
    child.stdin.end(input ?? '');
  });
}

/**
 * A TCP proxy to `port` that a test can cut (every connection dropped, new ones refused) and
 * restore: a real network fault between a client and a server that stays up.
 */
export class TcpProxy {
  port = 0;
  private server: Server | null = null;
  private readonly sockets = new Set<Socket>();
  private readonly clients = new Set<Socket>();
  private cut = false;

  constructor(private readonly targetPort: number) {}

  async listen(): Promise<this> {
    const server = createServer((client) => {
      if (this.cut) {
        client.destroy();
        return;
      }
      const upstream = connect(this.targetPort, '127.0.0.1');
      this.clients.add(client);
      client.on('close', () => this.clients.delete(client));
      for (const s of [client, upstream]) {
        this.sockets.add(s);
        s.on('close', () => this.sockets.delete(s));
        s.on('error', () => {
          client.destroy();
          upstream.destroy();
        });
      }
      client.pipe(upstream);
      upstream.pipe(client);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
    this.server = server;
    const addr = server.address();
    this.port = typeof addr === 'object' && addr ? addr.port : 0;
    return this;
  }

  /** The connections open through the proxy now. */
  get connections(): number {
    return this.clients.size;
  }

  /** Drops every connection and refuses new ones until restore(). */
  disconnect(): void {
    this.cut = true;
    for (const s of this.sockets) s.destroy();
  }

  restore(): void {
    this.cut = false;
  }

  async close(): Promise<void> {
    this.disconnect();
    await new Promise<void>((r) => (this.server ? this.server.close(() => r()) : r()));
  }
}

/**
 * A real ClickHouse (Debian's clickhouse-server, installed by scripts/setup.sh) on a free HTTP
 * port, with its data in a temporary directory; `query` runs SQL over its HTTP interface.
 */
export async function startClickHouse(): Promise<RunningService & { query(sql: string): Promise<string> }> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'logyard-clickhouse-'));
  const users = `<yandex><profiles><default/></profiles><users><default><password/><networks><ip>127.0.0.1</ip></networks><profile>default</profile><quota>default</quota></default></users><quotas><default/></quotas></yandex>`;
  writeFileSync(join(dir, 'users.xml'), users);
  writeFileSync(
    join(dir, 'config.xml'),
    `<yandex>
  <logger><level>warning</level><log>${dir}/server.log</log><errorlog>${dir}/error.log</errorlog></logger>
  <http_port>${port}</http_port>
  <tcp_port>${await freePort()}</tcp_port>
  <listen_host>127.0.0.1</listen_host>
  <path>${dir}/data/</path>
  <tmp_path>${dir}/tmp/</tmp_path>
  <user_files_path>${dir}/user_files/</user_files_path>
  <users_config>${dir}/users.xml</users_config>
  <default_profile>default</default_profile>
  <default_database>default</default_database>
  <mark_cache_size>67108864</mark_cache_size>
</yandex>`,
  );
  const proc = spawn('/usr/sbin/clickhouse-server', [`--config-file=${dir}/config.xml`], { stdio: 'ignore' });
  await waitForPort(port, 30_000);
  return {
    port,
    dir,
    process: proc,
    async query(sql: string) {
      const response = await fetch(`http://127.0.0.1:${port}/`, { method: 'POST', body: sql });
      const text = await response.text();
      if (!response.ok) throw new Error(`ClickHouse ${response.status}: ${text}`);
      return text;
    },
    async stop() {
      if (proc.exitCode === null && proc.signalCode === null) {
        const exited = new Promise((r) => proc.once('exit', r));
        proc.kill('SIGKILL');
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** rsyslogd is in /usr/sbin, which a user's PATH may not have. */
const RSYSLOGD = existsSync('/usr/sbin/rsyslogd') ? '/usr/sbin/rsyslogd' : 'rsyslogd';

/**
 * A real rsyslogd (Debian's rsyslog) taking syslog over TCP (imtcp, octet-counted framing) and
 * writing `HOSTNAME|APP-NAME|PROCID|MSGID|STRUCTURED-DATA|facility.severity|MSG` lines to a file.
 */
export async function startRsyslogReceiver(): Promise<{ port: number; lines(): string[]; close(): Promise<void> }> {
  const dir = mkdtempSync(join(tmpdir(), 'logyard-rsyslog-'));
  const out = join(dir, 'received.log');
  const port = await freePort();
  const config = join(dir, 'rsyslog.conf');
  writeFileSync(
    config,
    [
      `global(workDirectory="${dir}")`,
      'module(load="imtcp")',
      `input(type="imtcp" port="${port}" address="127.0.0.1")`,
      'template(name="fields" type="string" string="%hostname%|%app-name%|%procid%|%msgid%|%structured-data%|%syslogfacility-text%.%syslogseverity-text%|%msg%\\n")',
      `action(type="omfile" file="${out}" template="fields")`,
      '',
    ].join('\n'),
  );
  const pidFile = join(dir, 'rsyslogd.pid');
  const child = spawn(RSYSLOGD, ['-n', '-f', config, '-i', pidFile], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  child.once('exit', (code) => (output += `rsyslogd exited ${code}`));
  await waitForPort(port, 15_000).catch((err: Error) => Promise.reject(new Error(`${err.message}: ${output}`)));
  return {
    port,
    lines: () => (existsSync(out) ? readFileSync(out, 'utf8').split('\n').filter((line) => line !== '') : []),
    close: async () => {
      if (child.exitCode === null) {
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGTERM');
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface RunningDocker {
  /** The daemon's socket, for `docker -H`. */
  host: string;
  /** The image made from busybox-static, with sh, echo, printf, sleep, seq, yes, head, tr, dd, cat. */
  image: string;
  /** `docker <args>` against this daemon; rejects with its output when it fails. */
  docker(args: string[], options?: { timeoutMs?: number; input?: Buffer }): Promise<string>;
  /** Where the daemon keeps its data (containers' json-file logs are under `<dataRoot>/containers`). */
  dataRoot: string;
  stop(): Promise<void>;
}

/** Debian's docker.io CLI, the same version as its dockerd, when installed; else whatever `docker` is. */
const DOCKER_CLI = existsSync('/usr/bin/docker') ? '/usr/bin/docker' : 'docker';
const BUSYBOX_LINKS = ['sh', 'echo', 'printf', 'sleep', 'seq', 'yes', 'head', 'tr', 'dd', 'cat', 'true'];

/**
 * A real Docker daemon (Debian's docker.io, installed by scripts/setup.sh) for one test file,
 * that touches nothing of the host's: no iptables, no bridge (containers run with `--network
 * none` or `host`), its data and sockets in a temporary directory, and an image made without a
 * registry from busybox-static (Debian's). Throws with the daemon's own words when it cannot start.
 */
export async function startDocker(): Promise<RunningDocker> {
  const dir = mkdtempSync(join(tmpdir(), 'ly-dockerd-'));
  const dataRoot = join(dir, 'data');
  const socket = join(dir, 'docker.sock');
  const host = `unix://${socket}`;
  let log = '';
  const daemon = spawn(
    'dockerd',
    [
      '--iptables=false', '--ip6tables=false', '--ip-forward=false', '--bridge=none',
      '--data-root', dataRoot, '--exec-root', join(dir, 'exec'), '-H', host, '--pidfile', join(dir, 'dockerd.pid'),
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  for (const s of [daemon.stdout!, daemon.stderr!]) s.setEncoding('utf8').on('data', (c: string) => (log = (log + c).slice(-6000)));
  let spawnError: Error | null = null;
  daemon.once('error', (err) => (spawnError = err));

  const docker = (args: string[], options: { timeoutMs?: number; input?: Buffer } = {}): Promise<string> =>
    new Promise((resolve, reject) => {
      const child = spawn(DOCKER_CLI, ['-H', host, ...args], { stdio: [options.input ? 'pipe' : 'ignore', 'pipe', 'pipe'] });
      let out = '';
      let err = '';
      const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 60_000);
      child.stdout.setEncoding('utf8').on('data', (c: string) => (out += c));
      child.stderr.setEncoding('utf8').on('data', (c: string) => (err += c));
      child.on('error', reject);
      child.on('close', (code) => {
        clearTimeout(timer);
        if (code === 0) resolve(out);
        else reject(new Error(`docker ${args.join(' ')} exited ${code}: ${err || out}`));
      });
      if (options.input) {
        // A docker that fails before reading all of its input is reported by its exit, not as EPIPE.
        child.stdin!.on('error', () => {});
        child.stdin!.end(options.input);
      }
    });

  const stop = async (): Promise<void> => {
    await docker(['ps', '-aq']).then((ids) => (ids.trim() ? docker(['rm', '-f', ...ids.trim().split(/\s+/)]) : ''), () => '').catch(() => '');
    if (daemon.pid !== undefined && daemon.exitCode === null && daemon.signalCode === null) {
      const exited = new Promise((r) => daemon.once('exit', r));
      daemon.kill('SIGTERM');
      const t = setTimeout(() => daemon.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(t);
    }
    // containerd and its shims were started for this daemon: their command lines name our directory.
    for (const pid of processesMentioning(dir)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone already
      }
    }
    for (const mount of mountsUnder(dir)) await run('umount', ['-l', mount]).catch(() => {});
    rmSync(dir, { recursive: true, force: true });
  };

  try {
    const deadline = Date.now() + 30_000;
    for (;;) {
      if (spawnError) throw new Error(`cannot run dockerd (install Debian's docker.io: scripts/setup.sh): ${(spawnError as Error).message}`);
      if (daemon.exitCode !== null) throw new Error(`dockerd exited with ${daemon.exitCode}: ${log}`);
      if (await docker(['version', '--format', '{{.Server.Version}}'], { timeoutMs: 5000 }).then(() => true, () => false)) break;
      if (Date.now() > deadline) throw new Error(`dockerd did not answer on ${host} within 30 s: ${log}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    const image = 'logyard-test-busybox';
    const rootfs = join(dir, 'rootfs');
    mkdirSync(join(rootfs, 'bin'), { recursive: true });
    mkdirSync(join(rootfs, 'tmp'));
    copyFileSync('/bin/busybox', join(rootfs, 'bin', 'busybox'));
    for (const name of BUSYBOX_LINKS) symlinkSync('busybox', join(rootfs, 'bin', name));
    const tar = await runBuffer('tar', ['-C', rootfs, '-c', '.']);
    await docker(['import', '-', image], { input: tar });
    return { host, image, docker, dataRoot, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

function processesMentioning(text: string): number[] {
  const pids: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name) || Number(name) === process.pid) continue;
    try {
      if (readFileSync(`/proc/${name}/cmdline`, 'utf8').includes(text)) pids.push(Number(name));
    } catch {
      // exited meanwhile
    }
  }
  return pids;
}

/** Mount points at or under `dir`, deepest first. */
function mountsUnder(dir: string): string[] {
  return readFileSync('/proc/mounts', 'utf8')
    .split('\n')
    .map((l) => l.split(' ')[1]?.replace(/\\040/g, ' '))
    .filter((m): m is string => m !== undefined && (m === dir || m.startsWith(`${dir}/`)))
    .sort((a, b) => b.length - a.length);
}

function run(cmd: string, args: string[]): Promise<void> {
  return runBuffer(cmd, args).then(() => undefined);
}

function runBuffer(cmd: string, args: string[]): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    let err = '';
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.setEncoding('utf8').on('data', (c: string) => (err += c));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(Buffer.concat(out)) : reject(new Error(`${cmd} ${args.join(' ')} exited ${code}: ${err}`))));
  });
}
