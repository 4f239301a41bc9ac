// Helpers shared by the benchmarks.
import { spawn } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync } from 'node:fs';
import { request } from 'node:http';
import { createServer } from 'node:net';
import { join } from 'node:path';

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
/** Milliseconds since the epoch, with sub-millisecond precision. */
export const now = () => performance.timeOrigin + performance.now();

/**
 * The node flags of an executable's shebang (packages/cli/bin/logyard.js: V8's young generation
 * and GC threads), for spawning it through process.execPath as a user's `logyard` runs: without
 * them a core measured another V8 than the one users run.
 */
export const shebangFlags = (bin) => /^#!.*? node (.*)$/m.exec(readFileSync(bin, 'utf8'))?.[1].split(' ') ?? [];

/**
 * `env` with the variables an executable's shebang sets before `node` (`env -S NAME=VALUE ...`,
 * `${NAME}` expanded from `env`), for spawning it through process.execPath as its shebang would
 * run it. logyard.js sets none now (docs/sizing.md, glibc's malloc): `env` as it is.
 */
export function shebangEnv(bin, env = process.env) {
  const head = /^#!\S*env -S (.*?) node /m.exec(readFileSync(bin, 'utf8'))?.[1] ?? '';
  const out = { ...env };
  for (const [, name, value] of head.matchAll(/(\w+)=(\S*)/g)) out[name] = value.replace(/\$\{(\w+)\}/g, (_, v) => env[v] ?? '');
  return out;
}

/** Resolves once `probe()` is truthy; throws after `ms`. */
export async function waitFor(probe, what, ms = 20_000) {
  const deadline = Date.now() + ms;
  for (;;) {
    if (await probe()) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(25);
  }
}

/** A TCP sink on 127.0.0.1 counting lines; `last` is when the last one arrived. */
export async function sink() {
  const s = { count: 0, last: 0, server: null, port: 0 };
  s.server = createServer((sock) => {
    sock.on('data', (chunk) => {
      let n = 0;
      for (let i = chunk.indexOf(10); i >= 0; i = chunk.indexOf(10, i + 1)) n++;
      s.count += n;
      s.last = now();
    });
    sock.on('error', () => {});
  });
  await new Promise((r) => s.server.listen(0, '127.0.0.1', r));
  s.port = s.server.address().port;
  return s;
}

/** GET /status of the core on `runDir`, parsed. */
export function getStatus(runDir) {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath: join(runDir, 'status.sock'), path: '/status' }, (res) => {
      let b = '';
      res.on('data', (d) => (b += d));
      res.on('end', () => resolve(JSON.parse(b)));
    });
    req.on('error', reject);
    req.end();
  });
}

/** CPU seconds (user + system) process `pid` has used; 0 once it is gone. */
export function cpuSeconds(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100; // utime + stime, in ticks of 1/100 s (CLK_TCK)
  } catch {
    return 0;
  }
}

export function freePort() {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/** The etcd settings docs/sizing.md recommends: compaction keeps 10 to 20 s of history; 8 GiB quota. */
export const ETCD_FLAGS = ['--auto-compaction-mode=periodic', '--auto-compaction-retention=10s', '--quota-backend-bytes=8589934592'];

/** The size of etcd's database file, from its metrics. */
export async function etcdDbBytes(url) {
  return (await etcdDbSizes(url)).total;
}

/**
 * etcd's database file (`total`, etcd's dbSize: what the disk holds and the quota counts, never
 * smaller after a compaction until `etcdctl defrag`) and what of it is in use (`in_use`,
 * dbSizeInUse: live keys and the history compaction keeps; freed pages are reused).
 */
export async function etcdDbSizes(url) {
  const text = await (await fetch(`${url}/metrics`)).text();
  const metric = (name) => Number(new RegExp(`^(?:etcd_mvcc|etcd_debugging_mvcc)_${name} (\\S+)`, 'm').exec(text)?.[1]);
  return { total: metric('db_total_size_in_bytes'), in_use: metric('db_total_size_in_use_in_bytes') };
}

/** TCP connections established to local `port` now (the server's side of each), from /proc/net/tcp and tcp6. */
export function connectionsTo(port) {
  const hex = port.toString(16).toUpperCase().padStart(4, '0');
  let count = 0;
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let lines = [];
    try {
      lines = readFileSync(file, 'utf8').split('\n').slice(1);
    } catch {}
    for (const line of lines) {
      const [, local, , state] = line.trim().split(/\s+/);
      if (state === '01' && local?.endsWith(`:${hex}`)) count++;
    }
  }
  return count;
}

/** A real etcd (Debian's etcd-server) with its data under `root`; resolves to its store URI once healthy. */
export async function startBenchEtcd(root, children) {
  return (await benchEtcd(root, children)).uri;
}

/**
 * A real etcd with its data under `root` and `flags` added (compaction, quota): { uri, url, pid(),
 * kill() (SIGKILL, data kept), restart() (same ports and data) }, resolved once healthy.
 */
export async function benchEtcd(root, children, flags = []) {
  const [port, peer] = [await freePort(), await freePort()];
  const url = `http://127.0.0.1:${port}`;
  let p;
  const launch = async () => {
    p = spawn('etcd', ['--name', 'bench', '--data-dir', join(root, 'etcd'), '--listen-client-urls', url, '--advertise-client-urls', url,
      '--listen-peer-urls', `http://127.0.0.1:${peer}`, '--initial-advertise-peer-urls', `http://127.0.0.1:${peer}`,
      '--initial-cluster', `bench=http://127.0.0.1:${peer}`, '--logger', 'zap', '--log-level', 'error', ...flags], { stdio: 'ignore' });
    children.push(p);
    for (;;) {
      if (p.exitCode !== null) throw new Error(`etcd exited with ${p.exitCode}`);
      try {
        if ((await (await fetch(`${url}/health`)).json()).health === 'true') return;
      } catch {}
      await sleep(50);
    }
  };
  await launch();
  return {
    uri: `etcd://127.0.0.1:${port}`,
    url,
    pid: () => p.pid,
    kill: async () => {
      const exited = new Promise((r) => p.once('exit', r));
      p.kill('SIGKILL');
      await exited;
    },
    restart: launch,
  };
}

/**
 * `logyard core` of node `id` on `store`, its directories under `root`, with the config file
 * `config` if given; resolves once its status answers.
 */
export async function startBenchCore(bin, store, id, root, children, { logFile, config = '' } = {}) {
  const runDir = join(root, id, 'run');
  const stateDir = join(root, id, 'state');
  mkdirSync(stateDir, { recursive: true });
  // The core's log (its stderr) in `logFile` when asked for, else nowhere.
  const log = logFile ? openSync(logFile, 'a') : 'ignore';
  const p = spawn(process.execPath, [...shebangFlags(bin), bin, '--store', store, '--node-id', id, '--run-dir', runDir, '--state-dir', stateDir, '--status', 'off', 'core'], {
    env: shebangEnv(bin, { ...process.env, LOGYARD_CONFIG: config }),
    stdio: ['ignore', 'ignore', log],
  });
  if (typeof log === 'number') closeSync(log);
  children.push(p);
  for (;;) {
    if (p.exitCode !== null) throw new Error(`core ${id} exited with ${p.exitCode}`);
    if (await getStatus(runDir).catch(() => null)) return { id, runDir, process: p };
    await sleep(50);
  }
}
