// Benchmark of issue 6: the receivers.
// 1. syslog over TCP in -> logyard receive -> core -> tcp drain -> sink, lines/s from the first
//    byte sent to the last line delivered, side by side with rsyslogd (imptcp -> omfwd over TCP to
//    the same kind of sink) on the same input in the same run, and the ratio.
// 2. UDP JSON in, to `logyard receive` and to a core with receive.in_core: datagrams/s received
//    without loss (rates doubled until one loses datagrams), sent by udp-flood.c (built with gcc),
//    with net.core.rmem_max raised to what the listener asks for when it is lower and we are root.
// Prints a table and one JSON line.
// Usage: node scripts/bench/receive.mjs [--lines N] [--runs R] [--datagrams N] [--udp-rates R,R..] [--only tcp|udp] [--profile DIR]
//   [--base CHECKOUT]
// --base runs the syslog Logyard rows again with another built checkout (e.g. a worktree of main),
// alternated with this one in the same run: a change's before and after on the same machine at once.
// rsyslog: Debian's package `rsyslog` (apt-get install -y rsyslog); skipped with a note if missing.
import { spawn, spawnSync } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { connect, createServer } from 'node:net';
import { mkdtempSync, rmSync, writeFileSync, readFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join, dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { getStatus, now, shebangFlags, sink, sleep, waitFor } from './lib.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const bin = join(here, '../../packages/cli/bin/logyard.js');
const { values: opts } = parseArgs({
  options: {
    lines: { type: 'string', default: '1000000' },
    runs: { type: 'string', default: '3' },
    datagrams: { type: 'string', default: '1000000' },
    // Comma-separated datagrams/s to try instead of 25,000 doubled up to 1,600,000.
    'udp-rates': { type: 'string' },
    // tcp or udp: run that part only.
    only: { type: 'string' },
    base: { type: 'string' },
    // Writes a V8 CPU profile of each `logyard receive` and `logyard core` process into DIR/receive and DIR/core.
    profile: { type: 'string' },
  },
  strict: false,
});
const LINES = Number(opts.lines);
const RUNS = Number(opts.runs);
const DATAGRAMS = Number(opts.datagrams);
const env = { ...process.env, LOGYARD_CONFIG: '' };
/** The receive buffer a udp listener asks for by default (packages/receive/src/listeners.ts). */
const UDP_RECV_BUFFER = 8 * 1024 * 1024;

const portOpen = (port) =>
  new Promise((r) => {
    const s = connect(port, '127.0.0.1', () => (s.destroy(), r(true)));
    s.on('error', () => r(false));
  });

const freePort = async () => {
  const srv = createServer();
  await new Promise((r) => srv.listen(0, '127.0.0.1', r));
  const port = srv.address().port;
  await new Promise((r) => srv.close(r));
  return port;
};

/**
 * The syslog drain: `buffer=100000` is rsyslogd's main queue (100,000 messages by default), which
 * the rsyslog side has; with the default 10,000 a core that routes faster than the sink reads
 * (the sink is a Node.js process on the same two cores) drops the oldest, and a run never ends.
 */
const SYSLOG_DRAIN = (port) => `tcp://127.0.0.1:${port}?filter=syslog&format={{text}}&buffer=100000`;

/** The input: ~200-byte RFC 3164 lines from 20 tags, as Docker's syslog driver writes them. */
function syslogInput(file) {
  const pad = 'x'.repeat(130);
  const parts = [];
  let chunk = '';
  for (let i = 0; i < LINES; i++) {
    chunk += `<30>Nov 20 10:00:00 host web-${i % 20}[1234]: request ${i} ${pad}\n`;
    if (chunk.length > 1 << 20) (parts.push(chunk), (chunk = ''));
  }
  parts.push(chunk);
  writeFileSync(file, parts.join(''));
}

// The sender: a separate process writing the file to a TCP port as fast as TCP takes it.
const TCP_SENDER = `
const fs = require('node:fs'); const net = require('node:net');
const data = fs.readFileSync(process.argv[1]);
const s = net.connect(Number(process.argv[2]), '127.0.0.1', () => s.end(data));
s.on('close', () => process.exit(0));
`;

async function sendFile(file, port) {
  const t0 = now();
  const c = spawn(process.execPath, ['-e', TCP_SENDER, file, String(port)], { stdio: 'inherit' });
  await new Promise((r) => c.on('close', r));
  return t0;
}

const profileFlags = (name) => (opts.profile ? ['--cpu-prof', '--cpu-prof-dir', join(opts.profile, name)] : []);
/** The flags `logyard` runs with (its shebang's), then the profiler's: each process measured as a user runs it. */
const logyardFlags = (logyard, name) => [...shebangFlags(logyard), ...profileFlags(name)];

async function startLogyard(root, extraConfig, coreArgs = [], logyard = bin) {
  const runDir = join(root, 'run');
  const flags = ['--run-dir', runDir, '--state-dir', join(root, 'state'), '--node-id', 'bench', '--status', 'off'];
  const config = join(root, 'logyard.yaml');
  // The limit is not what is measured here: high enough never to cut.
  writeFileSync(config, `receive:\n  rate: 1000000000\n  burst: 1000000000\n${extraConfig}`);
  const procs = [];
  coreArgs = coreArgs.map((a) => (a === '{config}' ? config : a));
  const core = spawn(process.execPath, [...logyardFlags(logyard, 'core'), logyard, ...flags, ...coreArgs, 'core'], { env, stdio: ['ignore', 'ignore', 'inherit'] });
  procs.push(core);
  await waitFor(() => getStatus(runDir).then(() => true, () => false), 'the core');
  return { runDir, flags, config, procs, bin: logyard };
}

async function addDrain(node, name, uri) {
  const r = spawnSync(process.execPath, [node.bin, ...node.flags, 'drain', 'add', name, uri], { env, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(r.stderr);
  await waitFor(async () => (await getStatus(node.runDir)).drains.find((d) => d.name === name)?.state === 'RUNNING', `drain ${name}`);
}

async function startReceive(node, args) {
  let log = '';
  const rx = spawn(process.execPath, [...logyardFlags(node.bin, 'receive'), node.bin, ...node.flags, '-c', node.config, 'receive', ...args], { env, stdio: ['ignore', 'ignore', 'pipe'] });
  rx.stderr.on('data', (d) => (log += d));
  node.procs.push(rx);
  await waitFor(() => /receive: started/.test(log) || rx.exitCode !== null, 'receive');
  if (rx.exitCode !== null) throw new Error(log);
  return { rx, log: () => log };
}

async function stopAll(node) {
  for (const p of node.procs.reverse()) {
    if (p.exitCode !== null) continue;
    p.kill('SIGTERM');
    await new Promise((r) => p.on('close', r));
  }
}

async function logyardTcp(input, logyard = bin) {
  const root = mkdtempSync(join(tmpdir(), 'ly-bench-receive-'));
  const out = await sink();
  const node = await startLogyard(root, '', [], logyard);
  try {
    await addDrain(node, 'bench', SYSLOG_DRAIN(out.port));
    const port = await freePort();
    const { rx } = await startReceive(node, ['--syslog', `tcp://127.0.0.1:${port}`]);
    // CPU from the first line sent on: what starting the processes cost is not counted.
    const [rx0, core0] = [cpuSeconds(rx.pid), cpuSeconds(node.procs[0].pid)];
    const t0 = await sendFile(input, port);
    await waitFor(() => out.count >= LINES, `${LINES} lines at the sink (got ${out.count})`, 120_000);
    return {
      lines_per_s: Math.round(out.count / ((out.last - t0) / 1000)),
      delivered: out.count,
      receive_cpu_s: +(cpuSeconds(rx.pid) - rx0).toFixed(2),
      core_cpu_s: +(cpuSeconds(node.procs[0].pid) - core0).toFixed(2),
    };
  } finally {
    await stopAll(node);
    out.server.close();
    rmSync(root, { recursive: true, force: true });
  }
}

/** The same with the receivers inside the core (receive.in_core): one process, no ZeroMQ hop. */
async function logyardInCoreTcp(input, logyard = bin) {
  const root = mkdtempSync(join(tmpdir(), 'ly-bench-in-core-'));
  const out = await sink();
  const port = await freePort();
  const node = await startLogyard(root, `  in_core: true\n  syslog: ["tcp://127.0.0.1:${port}"]\n`, ['-c', '{config}'], logyard);
  try {
    await addDrain(node, 'bench', SYSLOG_DRAIN(out.port));
    await waitFor(() => portOpen(port), 'the core listening for syslog');
    const core0 = cpuSeconds(node.procs[0].pid);
    const t0 = await sendFile(input, port);
    await waitFor(() => out.count >= LINES, `${LINES} lines at the sink (got ${out.count})`, 120_000);
    return {
      lines_per_s: Math.round(out.count / ((out.last - t0) / 1000)),
      delivered: out.count,
      core_cpu_s: +(cpuSeconds(node.procs[0].pid) - core0).toFixed(2),
    };
  } finally {
    await stopAll(node);
    out.server.close();
    rmSync(root, { recursive: true, force: true });
  }
}

/** User + system CPU seconds of a running process, from /proc. */
function cpuSeconds(pid) {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return (Number(f[11]) + Number(f[12])) / 100;
  } catch {
    return null;
  }
}

function rsyslogAvailable() {
  return spawnSync('rsyslogd', ['-v'], { encoding: 'utf8' }).status === 0;
}

async function rsyslogTcp(input) {
  const root = mkdtempSync(join(tmpdir(), 'ly-bench-rsyslog-'));
  const out = await sink();
  const port = await freePort();
  const conf = join(root, 'rsyslog.conf');
  writeFileSync(
    conf,
    [
      `global(workDirectory="${root}")`,
      'module(load="imptcp")',
      `input(type="imptcp" address="127.0.0.1" port="${port}")`,
      'template(name="text" type="string" string="%msg%\\n")',
      `action(type="omfwd" target="127.0.0.1" port="${out.port}" protocol="tcp" template="text")`,
      '',
    ].join('\n'),
  );
  const rs = spawn('rsyslogd', ['-n', '-f', conf, '-i', join(root, 'rsyslogd.pid')], { stdio: ['ignore', 'ignore', 'inherit'] });
  try {
    await waitFor(() => portOpen(port), 'rsyslogd listening');
    const cpu0 = cpuSeconds(rs.pid);
    const t0 = await sendFile(input, port);
    await waitFor(() => out.count >= LINES, `${LINES} lines at the sink from rsyslogd (got ${out.count})`, 120_000);
    const cpu = +(cpuSeconds(rs.pid) - cpu0).toFixed(2);
    return { lines_per_s: Math.round(out.count / ((out.last - t0) / 1000)), delivered: out.count, rsyslogd_cpu_s: cpu };
  } finally {
    rs.kill('SIGTERM');
    await new Promise((r) => rs.on('close', r));
    out.server.close();
    rmSync(root, { recursive: true, force: true });
  }
}

// The UDP generator: scripts/bench/udp-flood.c, built here with gcc (see the file for why C).
function buildFlood(dir) {
  const exe = join(dir, 'udp-flood');
  const r = spawnSync('gcc', ['-O2', '-o', exe, join(here, 'udp-flood.c')], { encoding: 'utf8' });
  if (r.error || r.status !== 0) throw new Error(`cannot build the UDP generator with gcc (apt-get install -y gcc): ${r.error?.message ?? r.stderr}`);
  return exe;
}

const RMEM_PATH = '/proc/sys/net/core/rmem_max';
const readRmemMax = () => Number(readFileSync(RMEM_PATH, 'utf8'));

/**
 * Raises net.core.rmem_max to `bytes` for the run when it is lower and this is root, and gives
 * back a function restoring it; the figures are only worth something with the buffer the docs ask for.
 */
function ensureRmemMax(bytes) {
  const before = readRmemMax();
  if (before >= bytes) return { used: before, restore: () => {} };
  try {
    writeFileSync(RMEM_PATH, String(bytes));
  } catch {
    console.log(`net.core.rmem_max is ${before} and cannot be raised (not root): the udp listener gets a smaller buffer than it asks`);
    return { used: before, restore: () => {} };
  }
  return { used: bytes, restore: () => writeFileSync(RMEM_PATH, String(before)) };
}

/**
 * UDP JSON at doubling rates (or --udp-rates) until a step loses datagrams, into `logyard receive`
 * (inCore false) or into a core running the receivers itself (receive.in_core).
 */
async function udpJson(flood, inCore) {
  const root = mkdtempSync(join(tmpdir(), 'ly-bench-udp-'));
  const out = await sink();
  const port = inCore ? await freePort() : 0;
  const node = inCore
    ? await startLogyard(root, `  in_core: true\n  json: ["udp://127.0.0.1:${port}"]\n`, ['-c', '{config}'])
    : await startLogyard(root, '');
  const steps = [];
  try {
    await addDrain(node, 'bench', `tcp://127.0.0.1:${out.port}?filter=app&format={{text}}`);
    let rx = node.procs[0];
    let target = port;
    if (!inCore) {
      const started = await startReceive(node, ['--json', 'udp://127.0.0.1:0']);
      rx = started.rx;
      target = Number(/json listening on udp:\/\/127\.0\.0\.1:(\d+)/.exec(started.log())[1]);
    }
    const rates = opts['udp-rates'] ? String(opts['udp-rates']).split(',').map(Number) : Array.from({ length: 7 }, (_, i) => 25_000 * 2 ** i);
    for (const rate of rates) {
      const before = out.count;
      const count = Math.min(DATAGRAMS, rate * 5);
      const cpu0 = { rx: cpuSeconds(rx.pid), core: cpuSeconds(node.procs[0].pid) };
      const sender = spawn(flood, [String(target), String(count), String(rate)], { stdio: ['ignore', 'pipe', 'inherit'] });
      let report = '';
      sender.stdout.on('data', (d) => (report += d));
      await new Promise((r) => sender.on('close', r));
      const gen = JSON.parse(report);
      // Settled: nothing more arrives for half a second.
      let seen = -1;
      while (out.count !== seen) {
        seen = out.count;
        await sleep(500);
      }
      const delivered = out.count - before;
      const perM = (s) => +((s / count) * 1e6).toFixed(2);
      steps.push({
        asked: rate,
        sent_per_s: Math.round(count / gen.seconds),
        datagrams: count,
        delivered,
        lost: count - delivered,
        generator_cpu_s_per_million: perM(gen.cpu_s),
        receive_cpu_s_per_million: inCore ? null : perM(cpuSeconds(rx.pid) - cpu0.rx),
        core_cpu_s_per_million: perM(cpuSeconds(node.procs[0].pid) - cpu0.core),
        generator: gen.mode,
      });
      if (delivered < count) break;
      // The generator, not the receiver, is the limit when it cannot reach the asked rate.
      if (count / gen.seconds < rate * 0.8) break;
    }
    await sleep(1100); // the counters file is written once a second
    const stats = JSON.parse(readFileSync(join(node.runDir, 'clients', 'receive.json'), 'utf8'));
    const drain = (await getStatus(node.runDir)).drains.find((d) => d.name === 'bench');
    const drainDropped = Object.values(drain?.dropped ?? {}).reduce((a, b) => a + b, 0);
    return { steps, received: stats.received, dropped: stats.dropped, kernelDrops: stats.kernelDrops, drainDropped };
  } finally {
    await stopAll(node);
    out.server.close();
    rmSync(root, { recursive: true, force: true });
  }
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const TCP = opts.only !== 'udp';
const UDP = opts.only !== 'tcp';

const ly = [];
const lyIn = [];
const rs = [];
const baseBin = opts.base ? join(resolve(opts.base), 'packages/cli/bin/logyard.js') : null;
const baseLy = [];
const baseLyIn = [];
const haveRsyslog = TCP && rsyslogAvailable();
if (TCP) {
  const inputDir = mkdtempSync(join(tmpdir(), 'ly-bench-input-'));
  const input = join(inputDir, 'syslog.txt');
  syslogInput(input);
  if (!haveRsyslog) console.log('rsyslogd not found: install Debian\'s rsyslog (apt-get install -y rsyslog) to compare; measuring Logyard alone');
  for (let r = 0; r < RUNS; r++) {
    // Alternated, so none always runs on a warmer machine.
    ly.push(await logyardTcp(input));
    if (baseBin) baseLy.push(await logyardTcp(input, baseBin));
    lyIn.push(await logyardInCoreTcp(input));
    if (baseBin) baseLyIn.push(await logyardInCoreTcp(input, baseBin));
    if (haveRsyslog) rs.push(await rsyslogTcp(input));
  }
  rmSync(inputDir, { recursive: true, force: true });
}

const result = { bench: 'receive', lines: LINES, runs: RUNS };
const perMillion = (cpu) => +(cpu / (LINES / 1e6)).toFixed(2);
if (TCP) {
  const rsRate = haveRsyslog ? median(rs.map((x) => x.lines_per_s)) : null;
  const ratioTo = (rate) => (rsRate ? +(rate / rsRate).toFixed(2) : null);
  /** The figures of one build's two pipelines, named as the JSON line has always named them. */
  const logyardFigures = (tcp, inCore) => {
    const tcpRate = median(tcp.map((x) => x.lines_per_s));
    const inCoreRate = median(inCore.map((x) => x.lines_per_s));
    return {
      logyard_tcp_lines_per_s: tcpRate,
      logyard_receive_cpu_s: median(tcp.map((x) => x.receive_cpu_s)),
      logyard_core_cpu_s: median(tcp.map((x) => x.core_cpu_s)),
      logyard_cpu_s_per_million: perMillion(median(tcp.map((x) => x.receive_cpu_s + x.core_cpu_s))),
      logyard_in_core_tcp_lines_per_s: inCoreRate,
      logyard_in_core_cpu_s: median(inCore.map((x) => x.core_cpu_s)),
      logyard_in_core_cpu_s_per_million: perMillion(median(inCore.map((x) => x.core_cpu_s))),
      ratio: ratioTo(tcpRate),
      ratio_in_core: ratioTo(inCoreRate),
    };
  };
  const base = baseBin ? logyardFigures(baseLy, baseLyIn) : null;
  Object.assign(result, {
    ...logyardFigures(ly, lyIn),
    rsyslog_tcp_lines_per_s: rsRate,
    rsyslogd_cpu_s: haveRsyslog ? median(rs.map((x) => x.rsyslogd_cpu_s)) : null,
    rsyslogd_cpu_s_per_million: haveRsyslog ? perMillion(median(rs.map((x) => x.rsyslogd_cpu_s))) : null,
    ...(base ? { base: { checkout: resolve(opts.base), ...base } } : {}),
  });
  const row = (name, rate, cpu, perM, ratio) =>
    console.log(`  ${name.padEnd(40)} ${String(rate).padStart(9)} ${String(cpu).padStart(16)} ${String(perM).padStart(10)} ${String(ratio ?? '').padStart(7)}`);
  const logyardRows = (f, label) => {
    row(`${label}receive -> core -> tcp drain`, f.logyard_tcp_lines_per_s, `${f.logyard_receive_cpu_s} + ${f.logyard_core_cpu_s}`, f.logyard_cpu_s_per_million, f.ratio);
    row(`${label}core, receive.in_core -> tcp`, f.logyard_in_core_tcp_lines_per_s, f.logyard_in_core_cpu_s, f.logyard_in_core_cpu_s_per_million, f.ratio_in_core);
  };
  console.log(`syslog over TCP -> forwarded over TCP to a sink (${LINES} lines of ~200 bytes, median of ${RUNS}; ratio = lines/s against rsyslogd's; load average ${loadavg().map((l) => l.toFixed(2)).join(' ')})`);
  console.log(`  ${'pipeline'.padEnd(40)} ${'lines/s'.padStart(9)} ${'CPU s (processes)'.padStart(16)} ${'CPU s / M'.padStart(10)} ${'ratio'.padStart(7)}`);
  logyardRows(result, 'logyard ');
  if (base) logyardRows(base, 'base: ');
  if (haveRsyslog) row('rsyslogd imptcp -> omfwd tcp', rsRate, result.rsyslogd_cpu_s, result.rsyslogd_cpu_s_per_million, 1);
}

if (UDP) {
  const floodDir = mkdtempSync(join(tmpdir(), 'ly-bench-flood-'));
  const rmem = ensureRmemMax(UDP_RECV_BUFFER);
  try {
    const flood = buildFlood(floodDir);
    console.log(`UDP JSON in -> core -> tcp drain (166-byte objects, up to ${DATAGRAMS} datagrams or 5 s a step; net.core.rmem_max ${rmem.used}, load average ${loadavg().map((l) => l.toFixed(2)).join(' ')})`);
    for (const [name, inCore] of [['logyard receive -> core', false], ['core with receive.in_core', true]]) {
      const udp = await udpJson(flood, inCore);
      const lossless = udp.steps.filter((s) => s.lost === 0);
      const best = lossless.length ? lossless[lossless.length - 1].sent_per_s : 0;
      result[inCore ? 'udp_in_core' : 'udp'] = { lossless_datagrams_per_s: best, rmem_max: rmem.used, lost_counted: { kernel: udp.kernelDrops, publisher: udp.dropped, drain: udp.drainDropped }, steps: udp.steps };
      console.log(`  ${name}`);
      console.log('    asked/s     sent/s  datagrams  delivered     lost   CPU s / M: generator  receive     core');
      for (const s of udp.steps) {
        const cols = [s.asked, s.sent_per_s, s.datagrams, s.delivered, s.lost].map((v, i) => String(v).padStart(i === 0 ? 7 : 10));
        console.log(`    ${cols.join(' ')} ${String(s.generator_cpu_s_per_million).padStart(20)} ${String(s.receive_cpu_s_per_million ?? '-').padStart(8)} ${String(s.core_cpu_s_per_million).padStart(8)}`);
      }
      console.log(`    lossless up to ${best} datagrams/s; losses counted by Logyard: ${udp.kernelDrops} dropped by the kernel, ${udp.dropped} by the publisher, ${udp.drainDropped} by the drain`);
    }
  } finally {
    rmem.restore();
    rmSync(floodDir, { recursive: true, force: true });
  }
}
console.log(JSON.stringify(result));
