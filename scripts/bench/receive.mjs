// Benchmark of issue 6: the receivers.
// 1. syslog over TCP in -> logyard receive -> core -> tcp drain -> sink, lines/s from the first
//    byte sent to the last line delivered, side by side with rsyslogd (imptcp -> omfwd over TCP to
//    the same kind of sink) on the same input in the same run, and the ratio.
// 2. UDP JSON in: datagrams/s received without loss (rates doubled until one loses datagrams).
// Prints a table and one JSON line.
// Usage: node scripts/bench/receive.mjs [--lines N] [--runs R] [--datagrams N] [--profile DIR]
// rsyslog: Debian's package `rsyslog` (apt-get install -y rsyslog); skipped with a note if missing.
import { spawn, spawnSync } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { connect, createServer } from 'node:net';
import { mkdtempSync, rmSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { getStatus, now, sink, sleep, waitFor } from './lib.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const bin = join(here, '../../packages/cli/bin/logyard.js');
const { values: opts } = parseArgs({
  options: {
    lines: { type: 'string', default: '1000000' },
    runs: { type: 'string', default: '3' },
    datagrams: { type: 'string', default: '200000' },
    // Writes a V8 CPU profile of each `logyard receive` and `logyard core` process into DIR/receive and DIR/core.
    profile: { type: 'string' },
  },
  strict: false,
});
const LINES = Number(opts.lines);
const RUNS = Number(opts.runs);
const DATAGRAMS = Number(opts.datagrams);
const env = { ...process.env, LOGYARD_CONFIG: '' };

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

async function startLogyard(root, extraConfig, coreArgs = []) {
  const runDir = join(root, 'run');
  const flags = ['--run-dir', runDir, '--state-dir', join(root, 'state'), '--node-id', 'bench', '--status', 'off'];
  const config = join(root, 'logyard.yaml');
  // The limit is not what is measured here: high enough never to cut.
  writeFileSync(config, `receive:\n  rate: 1000000000\n  burst: 1000000000\n${extraConfig}`);
  const procs = [];
  coreArgs = coreArgs.map((a) => (a === '{config}' ? config : a));
  const core = spawn(process.execPath, [...profileFlags('core'), bin, ...flags, ...coreArgs, 'core'], { env, stdio: ['ignore', 'ignore', 'inherit'] });
  procs.push(core);
  await waitFor(() => getStatus(runDir).then(() => true, () => false), 'the core');
  return { runDir, flags, config, procs };
}

async function addDrain(node, name, uri) {
  const r = spawnSync(process.execPath, [bin, ...node.flags, 'drain', 'add', name, uri], { env, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(r.stderr);
  await waitFor(async () => (await getStatus(node.runDir)).drains.find((d) => d.name === name)?.state === 'RUNNING', `drain ${name}`);
}

async function startReceive(node, args) {
  let log = '';
  const rx = spawn(process.execPath, [...profileFlags('receive'), bin, ...node.flags, '-c', node.config, 'receive', ...args], { env, stdio: ['ignore', 'ignore', 'pipe'] });
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

async function logyardTcp(input) {
  const root = mkdtempSync(join(tmpdir(), 'ly-bench-receive-'));
  const out = await sink();
  const node = await startLogyard(root, '');
  try {
    await addDrain(node, 'bench', `tcp://127.0.0.1:${out.port}?filter=syslog&format={{text}}`);
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
async function logyardInCoreTcp(input) {
  const root = mkdtempSync(join(tmpdir(), 'ly-bench-in-core-'));
  const out = await sink();
  const port = await freePort();
  const node = await startLogyard(root, `  in_core: true\n  syslog: ["tcp://127.0.0.1:${port}"]\n`, ['-c', '{config}']);
  try {
    await addDrain(node, 'bench', `tcp://127.0.0.1:${out.port}?filter=syslog&format={{text}}`);
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

// The UDP sender: `count` JSON datagrams at `rate`/s (paced per millisecond), from one process.
const UDP_SENDER = `
const dgram = require('node:dgram');
const [port, count, rate] = process.argv.slice(1).map(Number);
const s = dgram.createSocket('udp4');
const pad = 'x'.repeat(120);
let sent = 0, acked = 0;
const t0 = performance.now();
function tick() {
  const due = Math.min(count, Math.floor(((performance.now() - t0) / 1000) * rate) + 1);
  while (sent < due) {
    const buf = Buffer.from('{"name":"svc' + (sent % 20) + '","text":"datagram ' + sent + ' ' + pad + '"}');
    sent++;
    s.send(buf, port, '127.0.0.1', () => {
      if (++acked === count) {
        process.stdout.write(JSON.stringify({ seconds: (performance.now() - t0) / 1000 }));
        s.close();
      }
    });
  }
  if (sent < count) setImmediate(tick);
}
tick();
`;

async function udpJson() {
  const root = mkdtempSync(join(tmpdir(), 'ly-bench-udp-'));
  const out = await sink();
  const node = await startLogyard(root, '');
  const steps = [];
  try {
    await addDrain(node, 'bench', `tcp://127.0.0.1:${out.port}?filter=app&format={{text}}`);
    const { log } = await startReceive(node, ['--json', 'udp://127.0.0.1:0']);
    const port = Number(/json listening on udp:\/\/127\.0\.0\.1:(\d+)/.exec(log())[1]);
    for (let rate = 25_000; rate <= 1_600_000; rate *= 2) {
      const before = out.count;
      const count = Math.min(DATAGRAMS, rate * 2);
      const sender = spawn(process.execPath, ['-e', UDP_SENDER, String(port), String(count), String(rate)], { stdio: ['ignore', 'pipe', 'inherit'] });
      let report = '';
      sender.stdout.on('data', (d) => (report += d));
      await new Promise((r) => sender.on('close', r));
      const seconds = JSON.parse(report).seconds;
      // Settled: nothing more arrives for half a second.
      let seen = -1;
      while (out.count !== seen) {
        seen = out.count;
        await sleep(500);
      }
      const delivered = out.count - before;
      steps.push({ asked: rate, sent_per_s: Math.round(count / seconds), datagrams: count, delivered, lost: count - delivered });
      if (delivered < count) break;
      // The sender, not the receiver, is the limit when it cannot reach the asked rate.
      if (count / seconds < rate * 0.8) break;
    }
    await sleep(1100); // the counters file is written once a second
    const stats = JSON.parse(readFileSync(join(node.runDir, 'clients', 'receive.json'), 'utf8'));
    return { steps, received: stats.received, dropped: stats.dropped, kernelDrops: stats.kernelDrops };
  } finally {
    await stopAll(node);
    out.server.close();
    rmSync(root, { recursive: true, force: true });
  }
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

const inputDir = mkdtempSync(join(tmpdir(), 'ly-bench-input-'));
const input = join(inputDir, 'syslog.txt');
syslogInput(input);
const haveRsyslog = rsyslogAvailable();
if (!haveRsyslog) console.log('rsyslogd not found: install Debian\'s rsyslog (apt-get install -y rsyslog) to compare; measuring Logyard alone');
const ly = [];
const lyIn = [];
const rs = [];
for (let r = 0; r < RUNS; r++) {
  // Alternated, so none always runs on a warmer machine.
  ly.push(await logyardTcp(input));
  lyIn.push(await logyardInCoreTcp(input));
  if (haveRsyslog) rs.push(await rsyslogTcp(input));
}
rmSync(inputDir, { recursive: true, force: true });
const udp = await udpJson();

const lyRate = median(ly.map((x) => x.lines_per_s));
const lyInRate = median(lyIn.map((x) => x.lines_per_s));
const rsRate = haveRsyslog ? median(rs.map((x) => x.lines_per_s)) : null;
const lossless = udp.steps.filter((s) => s.lost === 0);
const best = lossless.length ? lossless[lossless.length - 1] : null;
const perMillion = (cpu) => +(cpu / (LINES / 1e6)).toFixed(2);
const result = {
  bench: 'receive',
  lines: LINES,
  runs: RUNS,
  logyard_tcp_lines_per_s: lyRate,
  logyard_receive_cpu_s: median(ly.map((x) => x.receive_cpu_s)),
  logyard_core_cpu_s: median(ly.map((x) => x.core_cpu_s)),
  logyard_cpu_s_per_million: perMillion(median(ly.map((x) => x.receive_cpu_s + x.core_cpu_s))),
  logyard_in_core_tcp_lines_per_s: lyInRate,
  logyard_in_core_cpu_s: median(lyIn.map((x) => x.core_cpu_s)),
  logyard_in_core_cpu_s_per_million: perMillion(median(lyIn.map((x) => x.core_cpu_s))),
  rsyslog_tcp_lines_per_s: rsRate,
  rsyslogd_cpu_s: haveRsyslog ? median(rs.map((x) => x.rsyslogd_cpu_s)) : null,
  rsyslogd_cpu_s_per_million: haveRsyslog ? perMillion(median(rs.map((x) => x.rsyslogd_cpu_s))) : null,
  ratio: rsRate ? +(lyRate / rsRate).toFixed(2) : null,
  ratio_in_core: rsRate ? +(lyInRate / rsRate).toFixed(2) : null,
  udp_json_lossless_datagrams_per_s: best ? best.sent_per_s : 0,
  udp_lost_counted: { kernel: udp.kernelDrops, publisher: udp.dropped },
  udp_steps: udp.steps,
};
const row = (name, rate, cpu, perM, ratio) =>
  console.log(`  ${name.padEnd(40)} ${String(rate).padStart(9)} ${String(cpu).padStart(16)} ${String(perM).padStart(10)} ${String(ratio ?? '').padStart(7)}`);
console.log(`syslog over TCP -> forwarded over TCP to a sink (${LINES} lines of ~200 bytes, median of ${RUNS}; ratio = lines/s against rsyslogd's)`);
console.log(`  ${'pipeline'.padEnd(40)} ${'lines/s'.padStart(9)} ${'CPU s (processes)'.padStart(16)} ${'CPU s / M'.padStart(10)} ${'ratio'.padStart(7)}`);
row('logyard receive -> core -> tcp drain', lyRate, `${result.logyard_receive_cpu_s} + ${result.logyard_core_cpu_s}`, result.logyard_cpu_s_per_million, result.ratio);
row('logyard core, receive.in_core -> tcp', lyInRate, result.logyard_in_core_cpu_s, result.logyard_in_core_cpu_s_per_million, result.ratio_in_core);
if (haveRsyslog) row('rsyslogd imptcp -> omfwd tcp', rsRate, result.rsyslogd_cpu_s, result.rsyslogd_cpu_s_per_million, 1);
console.log('UDP JSON in -> core -> tcp drain (one ~170-byte object per datagram)');
console.log('  asked/s     sent/s  datagrams  delivered  lost');
for (const s of udp.steps) {
  console.log(`  ${String(s.asked).padStart(7)} ${String(s.sent_per_s).padStart(10)} ${String(s.datagrams).padStart(10)} ${String(s.delivered).padStart(10)} ${String(s.lost).padStart(5)}`);
}
console.log(`  lossless up to ${result.udp_json_lossless_datagrams_per_s} datagrams/s`);
console.log(`  losses counted by logyard receive: ${udp.kernelDrops} dropped by the kernel, ${udp.dropped} by the publisher`);
console.log(JSON.stringify(result));
