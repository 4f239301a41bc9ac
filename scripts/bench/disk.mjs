// Benchmark of issue 11: a drain's disk queue through a real core (publisher -> core -> drain),
// side by side with the same drain without disk, in one core per run:
//   memory  drain `mem` (tcp, no disk), its target up: events/s from the publisher to the target;
//   spill   drain `durable` (tcp, disk=2GiB), its target down: events/s from the publisher into
//           its queue (until every event is on disk or counted as dropped);
//   drain   the same once its target listens: events/s out of the queue, from the drain's
//           connect to the last event at the target.
// Events of about 200 bytes (scripts/bench/publisher.mjs), both drains at the default buffer
// (10,000). Per phase: the core's CPU seconds per million events (/proc) and its peak RSS
// (sampled every 50 ms); for memory and spill the publisher's CPU seconds per million too (near
// its events/s x that = 1 core, the publisher is the limit). Median of --runs (3) runs. Prints a
// table and a JSON line.
// Usage: node scripts/bench/disk.mjs [--events N] [--runs R] [--prof DIR (the core's --cpu-prof)]
//   [--base PATH/packages/cli/bin/logyard.js: another build (e.g. a copy of main's), its runs
//   alternating with this one's, both tables printed: a before/after under the same load]
//   [--core-flags '--trace-gc ...': more node flags for the core, its stderr shown]
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { freePort, getStatus, now, shebangFlags, sink, waitFor } from './lib.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const bin = join(here, '../../packages/cli/bin/logyard.js');
const { values: opts } = parseArgs({
  options: { events: { type: 'string', default: '1000000' }, runs: { type: 'string', default: '3' }, prof: { type: 'string' }, base: { type: 'string' }, 'core-flags': { type: 'string' } },
  strict: false,
});
const EVENTS = Number(opts.events);
const RUNS = Number(opts.runs);
const CLK_TCK = 100;

const cpuSeconds = (pid) => {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLK_TCK; // utime + stime
};
const rssMb = (pid) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? NaN) / 1024;

/**
 * Publishes `count` events under `key`; resolves to what the publisher printed: when publishing
 * began (ms since the epoch), its seconds until the core confirmed the last event, its CPU seconds.
 */
function publish(runDir, key, count) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(here, 'publisher.mjs'), runDir, key, String(count)], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.on('close', (code) => (code === 0 ? resolve(JSON.parse(out)) : reject(new Error(`publisher exited ${code}`))));
  });
}

/** The core's CPU seconds and peak RSS while `work` runs (RSS sampled every 50 ms). */
async function measure(pid, work) {
  let peak = rssMb(pid);
  const sampler = setInterval(() => (peak = Math.max(peak, rssMb(pid))), 50);
  const cpu0 = cpuSeconds(pid);
  try {
    const seconds = await work();
    return { seconds, cpu: cpuSeconds(pid) - cpu0, rss: Math.round(Math.max(peak, rssMb(pid))) };
  } finally {
    clearInterval(sampler);
  }
}

const droppedOf = (drain) => Object.values(drain.dropped).reduce((a, b) => a + b, 0);
async function drainStatus(runDir, name) {
  return (await getStatus(runDir)).drains.find((d) => d.name === name);
}

const env = { ...process.env, LOGYARD_CONFIG: '' };

async function run(bin) {
  const root = mkdtempSync(join(tmpdir(), 'logyard-bench-disk-'));
  const runDir = join(root, 'run');
  const stateDir = join(root, 'state');
  const up = await sink();
  const downPort = await freePort();
  // Drains go into the store before the core starts: setup is not measured.
  mkdirSync(join(stateDir, 'store', 'drains'), { recursive: true });
  const put = (name, uri) => writeFileSync(join(stateDir, 'store', 'drains', `${name}.json`), JSON.stringify({ uri, created: Date.now() / 1000 }));
  put('mem', `tcp://127.0.0.1:${up.port}?filter=bench.mem`);
  put('durable', `tcp://127.0.0.1:${downPort}?filter=bench.disk&disk=2GiB`);
  const args = ['--run-dir', runDir, '--state-dir', stateDir, '--node-id', 'bench-node', '--status', 'off', 'core'];
  // Run as a user does, through the shebang (which sets the core's V8 flags); with more flags
  // (--prof, --core-flags), the shebang's by hand: --cpu-prof is not allowed in NODE_OPTIONS.
  const extra = [...(opts['core-flags']?.split(' ') ?? []), ...(opts.prof ? ['--cpu-prof', `--cpu-prof-dir=${resolve(opts.prof)}`] : [])];
  const core =
    extra.length > 0
      ? spawn(process.execPath, [...shebangFlags(bin), ...extra, bin, ...args], { env, stdio: ['ignore', 'inherit', 'inherit'] })
      : spawn(bin, args, { env, stdio: ['ignore', 'ignore', 'ignore'] });
  let target = null;
  try {
    core.on('exit', (code) => code !== 0 && code !== null && console.error(`core exited with ${code}`));
    await waitFor(async () => {
      const st = await getStatus(runDir).catch(() => null);
      return st?.drains.length === 2 && st.drains.find((d) => d.name === 'mem').state === 'RUNNING';
    }, 'the core and its drains');
    const pid = core.pid;

    // The publisher's CPU per phase: when it is near a whole core, the publisher is the limit.
    const publisherCpu = {};
    const memory = await measure(pid, async () => {
      const { started, cpu_s } = await publish(runDir, 'bench.mem.n1', EVENTS);
      publisherCpu.memory = cpu_s;
      await waitFor(async () => up.count + droppedOf(await drainStatus(runDir, 'mem')) >= EVENTS, 'the memory drain', 120_000);
      return (up.last - started) / 1000;
    });
    const memDropped = droppedOf(await drainStatus(runDir, 'mem'));

    let spilled = null;
    const spill = await measure(pid, async () => {
      const { started, cpu_s } = await publish(runDir, 'bench.disk.n1', EVENTS);
      publisherCpu.spill = cpu_s;
      let done = 0;
      await waitFor(async () => {
        const d = await drainStatus(runDir, 'durable');
        done = now();
        spilled = d;
        return d.disk_events + droppedOf(d) >= EVENTS && d.buffered === d.disk_events;
      }, 'the spill', 120_000);
      return (done - started) / 1000;
    });
    const queued = spilled.disk_events;

    // The target opens; the drain connects at its next retry (within 5 s): timed from its connect.
    let connected = 0;
    let cpuAtConnect = 0;
    target = { count: 0, last: 0, server: null };
    target.server = createServer((sock) => {
      if (!connected) [connected, cpuAtConnect] = [now(), cpuSeconds(pid)];
      sock.on('data', (buf) => {
        for (let i = buf.indexOf(10); i >= 0; i = buf.indexOf(10, i + 1)) target.count++;
        target.last = now();
      });
      sock.on('error', () => {});
    });
    await new Promise((r) => target.server.listen(downPort, '127.0.0.1', r));
    const drain = await measure(pid, async () => {
      await waitFor(() => target.count >= queued, 'the drain', 120_000);
      return (target.last - connected) / 1000;
    });
    drain.cpu = cpuSeconds(pid) - cpuAtConnect;
    return {
      memory: { ...memory, events: EVENTS - memDropped, dropped: memDropped, publisherCpu: publisherCpu.memory },
      spill: { ...spill, events: queued, dropped: droppedOf(spilled), droppedBy: spilled.dropped, publisherCpu: publisherCpu.spill },
      drain: { ...drain, events: queued, dropped: 0 },
      disk_mb: Math.round(spilled.disk_bytes / 2 ** 20),
    };
  } finally {
    core.kill('SIGTERM');
    await new Promise((r) => (core.exitCode !== null ? r() : core.on('exit', r)));
    up.server.close();
    target?.server.close();
    rmSync(root, { recursive: true, force: true });
  }
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const builds = opts.base ? { base: resolve(opts.base), this: bin } : { this: bin };
const runsOf = Object.fromEntries(Object.keys(builds).map((b) => [b, []]));
for (let i = 0; i < RUNS; i++) for (const [build, path] of Object.entries(builds)) runsOf[build].push(await run(path));
for (const [build, runs] of Object.entries(runsOf)) report(build, runs);

function report(build, runs) {
  const phases = {};
  for (const phase of ['memory', 'spill', 'drain']) {
    const of = runs.map((r) => r[phase]);
    phases[phase] = {
      events_per_s: median(of.map((m) => Math.round(m.events / m.seconds))),
      cpu_s_per_million: median(of.map((m) => +((m.cpu * 1e6) / m.events).toFixed(2))),
      peak_rss_mb: Math.max(...of.map((m) => m.rss)),
      ...(phase === 'drain' ? {} : { publisher_cpu_s_per_million: median(of.map((m) => +((m.publisherCpu * 1e6) / EVENTS).toFixed(2))) }),
      dropped: of.reduce((a, m) => a + m.dropped, 0),
    };
  }
  const percent = (phase) => Math.round((phases[phase].events_per_s / phases.memory.events_per_s) * 100);
  console.log(`\n${build === 'base' ? `BASE ${builds.base}: ` : ''}disk queue: publisher -> core -> tcp drain, ${EVENTS} events of ~200 bytes, median of ${RUNS} runs (peak RSS: the max; dropped: all runs)`);
  console.table(
    Object.entries(phases).map(([phase, p]) => ({ phase, ...p, of_memory: phase === 'memory' ? '' : `${percent(phase)} %` })),
  );
  console.log(
    JSON.stringify({
      benchmark: 'disk',
      ...(build === 'base' ? { build: builds.base } : {}),
      events: EVENTS,
      runs: RUNS,
      ...phases,
      spill_of_memory: +(phases.spill.events_per_s / phases.memory.events_per_s).toFixed(3),
      drain_of_memory: +(phases.drain.events_per_s / phases.memory.events_per_s).toFixed(3),
      each_run: runs.map((r) => ({ ...Object.fromEntries(['memory', 'spill', 'drain'].map((p) => [p, Math.round(r[p].events / r[p].seconds)])), spill_dropped: r.spill.droppedBy })),
    }),
  );
}
