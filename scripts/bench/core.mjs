// Benchmark of issue 2: publisher -> core -> tcp drain, with 1 drain and with 100 drains of
// which 1 matches. Prints a table and JSON.
// Usage: npm run bench [-- --events N --runs R] [--drains 1,100] [--buffer N] [--profile DIR] [--input text|bytes] [--base CHECKOUT]
//   --buffer N     the measured drain's `buffer` (default: the drain default, 10000); a sink starved of
//                  CPU on a loaded machine makes a fast core drop the oldest (core_dropped) otherwise
//   --profile DIR  writes a V8 CPU profile of each core and publisher into DIR/core and DIR/publisher
//                  (DIR/base-core and DIR/base-publisher for --base)
//   --input bytes  the publisher publishes its lines from their bytes (publishLineBytes, as systail
//                  and apptail do) instead of as strings (publish, the default: --input text)
//   --base CHECKOUT another built checkout (e.g. a worktree of the commit before a change): each run
//                  is made with its core and its publisher too, right before this build's, and its rows
//                  are printed beside these (build `base`)
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { mkdtempSync, readdirSync, readFileSync, rmSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { getStatus, sleep } from './lib.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const bin = join(here, '../../packages/cli/bin/logyard.js');
const { values: opts } = parseArgs({ options: { events: { type: 'string', default: '2000000' }, runs: { type: 'string', default: '3' }, drains: { type: 'string', default: '1,100' }, buffer: { type: 'string' }, profile: { type: 'string' }, base: { type: 'string' }, input: { type: 'string', default: 'text' } } });
const profileFlags = (name) => (opts.profile ? ['--cpu-prof', '--cpu-prof-dir', join(opts.profile, name)] : []);
/** The builds measured: this checkout, and with --base another one (its core and its @logyard/bus). */
const builds = [
  ...(opts.base ? [{ name: 'base', bin: join(resolve(opts.base), 'packages/cli/bin/logyard.js'), bus: join(resolve(opts.base), 'packages/bus/dist/index.js'), profile: 'base-' }] : []),
  { name: 'this', bin, bus: undefined, profile: '' },
];
const EVENTS = Number(opts.events);
const RUNS = Number(opts.runs);
const CLK_TCK = 100;

function procStat(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLK_TCK; // utime + stime, seconds
}
/**
 * CPU seconds so far of the threads of `pid`, by kind: its main thread (JavaScript, and the
 * kernel's work for its syscalls), ZeroMQ's I/O thread (reading publish.sock), and the others
 * (V8's compiler threads, libuv's pool). A thread that ended in between is not counted.
 */
function threadCpu(pid) {
  const cpu = { main: 0, zeromq: 0, other: 0 };
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    let stat;
    try {
      stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
    } catch {
      continue; // ended meanwhile
    }
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const seconds = (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
    const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
    cpu[tid === String(pid) ? 'main' : name.startsWith('ZMQbg') ? 'zeromq' : 'other'] += seconds;
  }
  return cpu;
}
function peakRssMb(pid) {
  const m = readFileSync(`/proc/${pid}/status`, 'utf8').match(/VmHWM:\s+(\d+) kB/);
  return m ? Number(m[1]) / 1024 : NaN;
}
function run(args, env) {
  return new Promise((resolve, reject) => {
    const c = spawn(process.execPath, args, { stdio: ['pipe', 'pipe', 'inherit'], env: { ...process.env, ...env } });
    let out = '';
    c.stdout.on('data', (d) => (out += d));
    c.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`${args.join(' ')} exited ${code}`))));
    c.stdin.end();
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

async function scenario(drainCount, build) {
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
    ? spawn(process.execPath, ['--max-semi-space-size=4', '--single-threaded-gc', ...profileFlags(`${build.profile}core`), build.bin, ...flags, 'core'], { stdio: ['ignore', 'ignore', 'inherit'] })
    : spawn(build.bin, [...flags, 'core'], { stdio: ['ignore', 'ignore', 'inherit'] });
  for (let i = 0; ; i++) {
    try {
      const st = await getStatus(runDir);
      if (st.drains.length === drainCount && st.drains.every((d) => d.state === 'RUNNING')) break;
    } catch {}
    if (i > 400) throw new Error('core did not start');
    await sleep(25);
  }
  const cpu0 = procStat(core.pid);
  const threads0 = threadCpu(core.pid);
  const benchCpu0 = process.cpuUsage();
  const t0 = performance.now();
  const out = await run([...profileFlags(`${build.profile}publisher`), join(here, 'publisher.mjs'), runDir, 'bench.load.n1', String(EVENTS)], { PUB_INPUT: opts.input, ...(build.bus ? { LY_BUS: build.bus } : {}) });
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
  const publisher = JSON.parse(out);
  // From the publisher's first event (not from spawning its process: node's start took 0.2 s of
  // the 1.2 s a million events took) to the last one's arrival at the sink.
  const seconds = (performance.timeOrigin + target.last - publisher.started) / 1000;
  const received = target.count;
  const cpu = procStat(core.pid) - cpu0;
  const threads = threadCpu(core.pid);
  const perMillion = (seconds) => +(seconds / (EVENTS / 1e6)).toFixed(3);
  const benchCpu = process.cpuUsage(benchCpu0);
  const rss = peakRssMb(core.pid);
  core.kill('SIGTERM');
  await new Promise((r) => core.on('exit', r));
  target.server.close();
  other.server.close();
  rmSync(root, { recursive: true, force: true });
  return {
    build: build.name,
    drains: drainCount,
    events: EVENTS,
    events_per_s: Math.round(received / seconds),
    core_cpu_s_per_million: +(cpu / (EVENTS / 1e6)).toFixed(3),
    // The core's CPU by thread: main, ZeroMQ's I/O thread, the others (V8's compiler threads).
    core_main: perMillion(threads.main - threads0.main),
    core_zmq_io: perMillion(threads.zeromq - threads0.zeromq),
    core_other_threads: perMillion(threads.other - threads0.other),
    publisher_events_per_s: Math.round(publisher.published / publisher.seconds),
    publisher_cpu_s_per_million: +(publisher.cpu_s / (EVENTS / 1e6)).toFixed(3),
    // This process: the sink counting lines, and the status polls.
    sink_cpu_s_per_million: +((benchCpu.user + benchCpu.system) / 1e6 / (EVENTS / 1e6)).toFixed(3),
    core_peak_rss_mb: +rss.toFixed(1),
    publisher_dropped: publisher.dropped,
    core_dropped: dropped,
  };
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const results = [];
for (const drains of opts.drains.split(',').map(Number)) {
  const runsOf = new Map(builds.map((b) => [b.name, []]));
  // The builds take turns, so that a change in the machine's load falls on both alike.
  for (let r = 0; r < RUNS; r++) for (const build of builds) runsOf.get(build.name).push(await scenario(drains, build));
  for (const [build, runs] of runsOf) results.push({
    ...(opts.base ? { build } : {}),
    drains,
    events: EVENTS,
    runs: RUNS,
    events_per_s: median(runs.map((r) => r.events_per_s)),
    core_cpu_s_per_million: median(runs.map((r) => r.core_cpu_s_per_million)),
    core_main: median(runs.map((r) => r.core_main)),
    core_zmq_io: median(runs.map((r) => r.core_zmq_io)),
    core_other_threads: median(runs.map((r) => r.core_other_threads)),
    publisher_events_per_s: median(runs.map((r) => r.publisher_events_per_s)),
    publisher_cpu_s_per_million: median(runs.map((r) => r.publisher_cpu_s_per_million)),
    sink_cpu_s_per_million: median(runs.map((r) => r.sink_cpu_s_per_million)),
    core_peak_rss_mb: Math.max(...runs.map((r) => r.core_peak_rss_mb)),
    publisher_dropped: runs.reduce((a, r) => a + r.publisher_dropped, 0),
    core_dropped: runs.reduce((a, r) => a + r.core_dropped, 0),
  });
}
const own = results.filter((r) => r.build !== 'base');
const ratio = own.length > 1 ? own[1].events_per_s / own[0].events_per_s : 1;
console.log(`\npublisher (lines as ${opts.input === 'bytes' ? 'bytes, publishLineBytes' : 'strings, publish'}) -> core -> tcp drain, 200-byte events (median of runs; peak RSS is the max)`);
console.table(results);
console.log(`100 drains (1 matching) vs 1 drain: ${(ratio * 100).toFixed(1)} % of the throughput (${((1 - ratio) * 100).toFixed(1)} % slower)`);
console.log(JSON.stringify({ benchmark: 'core', input: opts.input, results, ratio_100_vs_1: +ratio.toFixed(3) }));
