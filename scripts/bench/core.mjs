// Benchmark of issue 2: publisher -> core -> tcp drain, with 1 drain and with 100 drains of
// which 1 matches. Prints a table and JSON.
// Usage: npm run bench [-- --events N --runs R] [--drains 1,100] [--buffer N] [--profile DIR]
//   --buffer N     the measured drain's `buffer` (default: the drain default, 10000); a sink starved of
//                  CPU on a loaded machine makes a fast core drop the oldest (core_dropped) otherwise
//   --profile DIR  writes a V8 CPU profile of each core and publisher into DIR/core and DIR/publisher
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { mkdtempSync, readFileSync, rmSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { getStatus, sleep } from './lib.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const bin = join(here, '../../packages/cli/bin/logyard.js');
const { values: opts } = parseArgs({ options: { events: { type: 'string', default: '2000000' }, runs: { type: 'string', default: '3' }, drains: { type: 'string', default: '1,100' }, buffer: { type: 'string' }, profile: { type: 'string' } } });
const profileFlags = (name) => (opts.profile ? ['--cpu-prof', '--cpu-prof-dir', join(opts.profile, name)] : []);
const EVENTS = Number(opts.events);
const RUNS = Number(opts.runs);
const CLK_TCK = 100;

function procStat(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLK_TCK; // utime + stime, seconds
}
function peakRssMb(pid) {
  const m = readFileSync(`/proc/${pid}/status`, 'utf8').match(/VmHWM:\s+(\d+) kB/);
  return m ? Number(m[1]) / 1024 : NaN;
}
function run(args, input) {
  return new Promise((resolve, reject) => {
    const c = spawn(process.execPath, args, { stdio: ['pipe', 'pipe', 'inherit'] });
    let out = '';
    c.stdout.on('data', (d) => (out += d));
    c.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`${args.join(' ')} exited ${code}`))));
    c.stdin.end(input ?? '');
  });
}

/** A TCP sink that counts newline-terminated events and notes when the first and last arrive. */
async function sink() {
  const s = { count: 0, first: 0, last: 0, server: null, port: 0 };
  s.server = createServer((sock) => {
    sock.on('data', (buf) => {
      let n = 0;
      for (let i = buf.indexOf(10); i >= 0; i = buf.indexOf(10, i + 1)) n++;
      if (n && !s.first) s.first = performance.now();
      s.count += n;
      s.last = performance.now();
    });
    sock.on('error', () => {});
  });
  await new Promise((r) => s.server.listen(0, '127.0.0.1', r));
  s.port = s.server.address().port;
  return s;
}

async function scenario(drainCount) {
  const root = mkdtempSync(join(tmpdir(), 'ly-bench-'));
  const runDir = join(root, 'run');
  const stateDir = join(root, 'state');
  const flags = ['--run-dir', runDir, '--state-dir', stateDir, '--node-id', 'bench-node', '--status', 'off'];
  const target = await sink();
  const other = await sink();
  // Drains go straight into the store before the core starts, so setup time is not measured.
  mkdirSync(join(stateDir, 'store', 'drains'), { recursive: true });
  const put = (name, uri) => writeFileSync(join(stateDir, 'store', 'drains', `${name}.json`), JSON.stringify({ uri, created: Date.now() / 1000 }));
  put('bench', `tcp://127.0.0.1:${target.port}?filter=bench.load${opts.buffer ? `&buffer=${opts.buffer}` : ''}`);
  for (let i = 1; i < drainCount; i++) put(`other-${i}`, `tcp://127.0.0.1:${other.port}?filter=other.stream${i}`);
  // Run the command as a user does, through its shebang (which sets the core's V8 flags).
  const core = opts.profile
    ? spawn(process.execPath, ['--max-semi-space-size=4', '--single-threaded-gc', ...profileFlags('core'), bin, ...flags, 'core'], { stdio: ['ignore', 'ignore', 'inherit'] })
    : spawn(bin, [...flags, 'core'], { stdio: ['ignore', 'ignore', 'inherit'] });
  for (let i = 0; ; i++) {
    try {
      const st = await getStatus(runDir);
      if (st.drains.length === drainCount && st.drains.every((d) => d.state === 'RUNNING')) break;
    } catch {}
    if (i > 400) throw new Error('core did not start');
    await sleep(25);
  }
  const cpu0 = procStat(core.pid);
  const t0 = performance.now();
  const out = await run([...profileFlags('publisher'), join(here, 'publisher.mjs'), runDir, 'bench.load.n1', String(EVENTS)]);
  // Every event either arrives or is counted as dropped by the core; wait until all are accounted for.
  let dropped = 0;
  for (;;) {
    const st = await getStatus(runDir);
    const d = st.drains.find((x) => x.name === 'bench');
    dropped = Object.values(d.dropped).reduce((a, b) => a + b, 0);
    if (st.events.in >= EVENTS && target.count + dropped >= EVENTS && d.buffered === 0) break;
    if (performance.now() - t0 > 60_000) {
      core.kill('SIGKILL');
      throw new Error(`only ${target.count} of ${EVENTS} arrived, ${dropped} dropped; publisher: ${out.trim()}; core events: ${JSON.stringify(st.events)}`);
    }
    await sleep(20);
  }
  const seconds = (target.last - t0) / 1000;
  const received = target.count;
  const cpu = procStat(core.pid) - cpu0;
  const rss = peakRssMb(core.pid);
  core.kill('SIGTERM');
  await new Promise((r) => core.on('exit', r));
  target.server.close();
  other.server.close();
  rmSync(root, { recursive: true, force: true });
  const publisher = JSON.parse(out);
  return {
    drains: drainCount,
    events: EVENTS,
    events_per_s: Math.round(received / seconds),
    core_cpu_s_per_million: +(cpu / (EVENTS / 1e6)).toFixed(3),
    publisher_events_per_s: Math.round(publisher.published / publisher.seconds),
    publisher_cpu_s_per_million: +(publisher.cpu_s / (EVENTS / 1e6)).toFixed(3),
    core_peak_rss_mb: +rss.toFixed(1),
    publisher_dropped: publisher.dropped,
    core_dropped: dropped,
  };
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const results = [];
for (const drains of opts.drains.split(',').map(Number)) {
  const runs = [];
  for (let r = 0; r < RUNS; r++) runs.push(await scenario(drains));
  results.push({
    drains,
    events: EVENTS,
    runs: RUNS,
    events_per_s: median(runs.map((r) => r.events_per_s)),
    core_cpu_s_per_million: median(runs.map((r) => r.core_cpu_s_per_million)),
    publisher_events_per_s: median(runs.map((r) => r.publisher_events_per_s)),
    publisher_cpu_s_per_million: median(runs.map((r) => r.publisher_cpu_s_per_million)),
    core_peak_rss_mb: Math.max(...runs.map((r) => r.core_peak_rss_mb)),
    publisher_dropped: runs.reduce((a, r) => a + r.publisher_dropped, 0),
    core_dropped: runs.reduce((a, r) => a + r.core_dropped, 0),
  });
}
const ratio = results.length > 1 ? results[1].events_per_s / results[0].events_per_s : 1;
console.log('\npublisher -> core -> tcp drain, 200-byte events (median of runs; peak RSS is the max)');
console.table(results);
console.log(`100 drains (1 matching) vs 1 drain: ${(ratio * 100).toFixed(1)} % of the throughput (${((1 - ratio) * 100).toFixed(1)} % slower)`);
console.log(JSON.stringify({ benchmark: 'core', results, ratio_100_vs_1: +ratio.toFixed(3) }));
