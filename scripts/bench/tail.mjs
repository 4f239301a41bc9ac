// Benchmark of issue 5, `logyard tail`: the events/s one tail displays with --raw from 3 nodes
// (stdout to /dev/null, all three cores publishing flat out), and the delay from publish to
// print (median, p99) at a steady load with the tail's output read through a pipe.
// Usage: npm run bench (runs every benchmark), or node scripts/bench/tail.mjs [--events N] [--rate R]
import { spawn } from 'node:child_process';
import { mkdtempSync, openSync, rmSync, closeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { getStatus, shebangEnv, shebangFlags, sleep, startBenchCore, startBenchEtcd } from './lib.mjs';
import { Publisher } from '@logyard/bus';

const here = dirname(fileURLToPath(import.meta.url));
const bin = join(here, '../../packages/cli/bin/logyard.js');
const { values: opts } = parseArgs({
  options: { events: { type: 'string', default: '300000' }, rate: { type: 'string', default: '3000' }, seconds: { type: 'string', default: '5' } },
  strict: false,
});
const PER_NODE = Number(opts.events);
const RATE_PER_NODE = Number(opts.rate);
const SECONDS = Number(opts.seconds);
const root = mkdtempSync(join(tmpdir(), 'logyard-bench-tail-'));
const children = [];

/** Starts `logyard tail --raw bench.tail` against node n1 with stdout on `stdout`; resolves once every core runs its drain. */
async function startTail(store, cores, stdout) {
  const n1 = cores[0];
  const p = spawn(process.execPath, [...shebangFlags(bin), bin, '--store', store, '--node-id', n1.id, '--run-dir', n1.runDir, '--state-dir', join(root, n1.id, 'state'),
    'tail', '--raw', '--listen', '127.0.0.1', 'bench.tail'], { env: shebangEnv(bin, { ...process.env, LOGYARD_CONFIG: '' }), stdio: ['ignore', stdout, 'pipe'] });
  children.push(p);
  let err = '';
  p.stderr.setEncoding('utf8').on('data', (c) => (err += c));
  while (!/through drain (\S+)/.test(err)) {
    if (p.exitCode !== null) throw new Error(`tail exited: ${err}`);
    await sleep(20);
  }
  const drain = /through drain (\S+)/.exec(err)[1];
  for (const core of cores) {
    while ((await getStatus(core.runDir)).drains.find((d) => d.name === drain)?.state !== 'RUNNING') await sleep(20);
  }
  return { process: p, drain };
}

async function stopTail(tail) {
  tail.process.kill('SIGINT');
  await new Promise((r) => (tail.process.exitCode !== null ? r() : tail.process.once('exit', r)));
}

async function tailDrainTotals(cores, drain) {
  let sent = 0, dropped = 0, buffered = 0;
  for (const core of cores) {
    const d = (await getStatus(core.runDir)).drains.find((x) => x.name === drain);
    sent += d?.sent ?? 0;
    buffered += d?.buffered ?? 0;
    dropped += Object.values(d?.dropped ?? {}).reduce((a, b) => a + b, 0);
  }
  return { sent, dropped, buffered };
}

/** Every core publishes PER_NODE events (a publisher process each) at full speed; the tail writes to /dev/null. */
async function throughput(store, cores) {
  const devNull = openSync('/dev/null', 'w');
  const tail = await startTail(store, cores, devNull);
  const started = performance.now();
  const loads = cores.map((c) => spawn(process.execPath, [join(here, 'publisher.mjs'), c.runDir, 'bench.tail.load', String(PER_NODE)], { stdio: ['ignore', 'pipe', 'inherit'] }));
  children.push(...loads);
  await Promise.all(loads.map((l) => new Promise((r) => l.once('exit', r))));
  let totals;
  for (;;) {
    totals = await tailDrainTotals(cores, tail.drain);
    if (totals.sent + totals.dropped >= cores.length * PER_NODE && totals.buffered === 0) break;
    await sleep(5);
  }
  const seconds = (performance.now() - started) / 1000;
  await stopTail(tail);
  closeSync(devNull);
  return { nodes: cores.length, events: cores.length * PER_NODE, displayed: totals.sent, dropped: totals.dropped, seconds: +seconds.toFixed(2), events_per_s: Math.round(totals.sent / seconds) };
}

/** Every core gets RATE_PER_NODE events/s for SECONDS; each printed line's delay is now - its unix_time. */
async function latency(store, cores) {
  const tail = await startTail(store, cores, 'pipe');
  const delays = [];
  let rest = '';
  tail.process.stdout.setEncoding('utf8').on('data', (chunk) => {
    const now = Date.now() / 1000;
    rest += chunk;
    let nl;
    while ((nl = rest.indexOf('\n')) >= 0) {
      const line = rest.slice(0, nl);
      rest = rest.slice(nl + 1);
      const at = line.indexOf('"unix_time":');
      if (at >= 0) delays.push((now - parseFloat(line.slice(at + 12))) * 1000);
    }
  });
  const publishers = cores.map((c) => new Publisher({ runDir: c.runDir, nodeId: c.id }));
  const total = RATE_PER_NODE * SECONDS * cores.length;
  const tickMs = 10;
  const perTick = Math.max(1, Math.round((RATE_PER_NODE * tickMs) / 1000));
  const ticks = Math.round((SECONDS * 1000) / tickMs);
  const t0 = performance.now();
  for (let t = 0; t < ticks; t++) {
    for (const p of publishers) for (let i = 0; i < perTick; i++) p.publish('bench.tail.latency', 'x'.repeat(100));
    const wait = t0 + (t + 1) * tickMs - performance.now();
    if (wait > 0) await sleep(wait);
  }
  const deadline = Date.now() + 30_000;
  while (delays.length < Math.min(total, perTick * ticks * cores.length) && Date.now() < deadline) await sleep(20);
  await Promise.all(publishers.map((p) => p.close()));
  await stopTail(tail);
  delays.sort((a, b) => a - b);
  const q = (f) => +delays[Math.min(delays.length - 1, Math.floor(f * delays.length))].toFixed(1);
  return { nodes: cores.length, rate_per_node: RATE_PER_NODE, printed: delays.length, median_ms: q(0.5), p99_ms: q(0.99), max_ms: +delays.at(-1).toFixed(1) };
}

try {
  const store = await startBenchEtcd(root, children);
  const cores = [];
  for (const id of ['n1', 'n2', 'n3']) cores.push(await startBenchCore(bin, store, id, root, children));
  const rate = await throughput(store, cores);
  const delay = await latency(store, cores);
  console.log('\nlogyard tail --raw from 3 nodes');
  console.log('EVENTS   DISPLAYED  DROPPED  SECONDS  EVENTS/S');
  console.log(`${String(rate.events).padEnd(9)}${String(rate.displayed).padEnd(11)}${String(rate.dropped).padEnd(9)}${String(rate.seconds).padEnd(9)}${rate.events_per_s}`);
  console.log(`publish -> print at ${delay.rate_per_node * delay.nodes} events/s: median ${delay.median_ms} ms, p99 ${delay.p99_ms} ms, max ${delay.max_ms} ms (${delay.printed} events)`);
  console.log(JSON.stringify({ benchmark: 'tail', throughput: rate, latency: delay }));
} finally {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  await sleep(200);
  rmSync(root, { recursive: true, force: true });
}
