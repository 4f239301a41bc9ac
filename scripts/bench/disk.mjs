// Benchmark of issue 11: a drain's disk queue, in one process (the drains package, a real TCP
// sink, real files). Events of ~200 bytes are pushed as the core pushes them (a batch of 1000,
// then a turn of the event loop):
//   memory  a drain without disk, its target up: events/s through it;
//   spill   a drain with disk=2GiB buffer=1000, its target down: events/s into its queue (the
//           pusher holds back while 8,000 wait in memory: the rate the queue takes, no drops);
//   drain   the same once its target opens: events/s out of the queue to the target.
// CPU seconds per million events and the process's peak RSS of each phase. Prints a table and a JSON line.
// Usage: node scripts/bench/disk.mjs [--events N]
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Drain } from '../../packages/drains/dist/index.js';

const { values: opts } = parseArgs({ options: { events: { type: 'string', default: '1000000' } }, strict: false });
const EVENTS = Number(opts.events);
const EVENT = JSON.stringify({ text: 'x'.repeat(120), node_id: 'bench', unix_time: 1700000000.123, human_time: '2023-11-14T22:13:20.123+00:00' });

function listen() {
  return new Promise((resolve) => {
    let lines = 0;
    const sockets = new Set();
    const server = createServer((socket) => {
      sockets.add(socket);
      socket.on('data', (chunk) => {
        for (let i = chunk.indexOf(10); i >= 0; i = chunk.indexOf(10, i + 1)) lines++;
      });
      socket.on('error', () => {});
    });
    server.listen(0, '127.0.0.1', () =>
      resolve({
        port: server.address().port,
        get lines() {
          return lines;
        },
        close: () => new Promise((r) => { for (const s of sockets) s.destroy(); server.close(() => r()); }),
      }),
    );
  });
}

async function freePort() {
  const t = await listen();
  await t.close();
  return t.port;
}

const turn = () => new Promise((resolve) => setImmediate(resolve));
async function until(check) {
  while (!check()) await new Promise((resolve) => setTimeout(resolve, 5));
}

/** Runs `work`, returning seconds, CPU seconds and peak RSS (MB) sampled every 50 ms. */
async function measure(work) {
  let peak = process.memoryUsage().rss;
  const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 50);
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  await work();
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const cpu = process.cpuUsage(cpu0);
  clearInterval(sampler);
  return { seconds, cpu: (cpu.user + cpu.system) / 1e6, rssMb: Math.round(Math.max(peak, process.memoryUsage().rss) / 2 ** 20) };
}

/**
 * Pushes every event, 1000 per turn of the event loop. `paced`: holds back while more than 8,000
 * events wait in memory (not yet on disk), so that what is measured is the rate the queue takes
 * without dropping, not a burst faster than any core.
 */
async function pushAll(drain, paced = false) {
  for (let i = 0; i < EVENTS; i++) {
    drain.push('app.bench', EVENT);
    if ((i + 1) % 1000 === 0) {
      await turn();
      while (paced && inMemory(drain) > 8000) await new Promise((resolve) => setTimeout(resolve, 1));
    }
  }
}

function inMemory(drain) {
  const status = drain.status();
  return status.buffered - status.disk_events;
}

const dir = mkdtempSync(join(tmpdir(), 'logyard-bench-disk-'));
const ctx = { nodeId: 'bench', formats: {}, fileDrainRoots: [], buffersDir: join(dir, 'buffers'), diskSync: 1000 };
try {
  // memory: target up, no disk (buffer large enough to drop nothing)
  const up = await listen();
  const plain = new Drain('plain', `tcp://127.0.0.1:${up.port}?buffer=10000000`, ctx);
  plain.start();
  const memory = await measure(async () => {
    await pushAll(plain);
    await until(() => up.lines >= EVENTS);
  });
  await plain.close();
  await up.close();

  // spill: target down
  const port = await freePort();
  const durable = new Drain('durable', `tcp://127.0.0.1:${port}?disk=2GiB&buffer=1000`, ctx);
  durable.start();
  const spill = await measure(async () => {
    await pushAll(durable, true);
    await until(() => durable.status().disk_events + durable.status().dropped.buffer_full >= EVENTS);
  });
  const spilled = durable.status();
  // drain: the target opens (the drain's next retry comes within 5 s: the clock starts at its connect)
  const target = await listen();
  await target.close();
  const late = await new Promise((resolve) => {
    let lines = 0;
    let first = 0;
    const server = createServer((socket) => {
      first ||= Date.now();
      socket.on('data', (chunk) => {
        for (let i = chunk.indexOf(10); i >= 0; i = chunk.indexOf(10, i + 1)) lines++;
      });
    });
    server.listen(port, '127.0.0.1', () => resolve({ server, get lines() { return lines; } }));
  });
  await until(() => durable.status().state === 'RUNNING');
  const drain = await measure(async () => until(() => late.lines >= EVENTS - spilled.dropped.buffer_full));
  const drained = EVENTS - spilled.dropped.buffer_full;
  await durable.close();
  late.server.close();

  const perSecond = (m) => Math.round((m === drain ? drained : EVENTS) / m.seconds);
  const perMillion = (m) => Number(((m.cpu * 1e6) / (m === drain ? drained : EVENTS)).toFixed(2));
  const result = {
    bench: 'disk',
    events: EVENTS,
    event_bytes: EVENT.length,
    memory_events_per_s: perSecond(memory),
    spill_events_per_s: Math.round((EVENTS - spilled.dropped.buffer_full) / spill.seconds),
    drain_events_per_s: perSecond(drain),
    memory_cpu_s_per_million: perMillion(memory),
    spill_cpu_s_per_million: perMillion(spill),
    drain_cpu_s_per_million: perMillion(drain),
    memory_rss_mb: memory.rssMb,
    spill_rss_mb: spill.rssMb,
    drain_rss_mb: drain.rssMb,
    spill_buffer_full: spilled.dropped.buffer_full,
    disk_mb: Math.round(spilled.disk_bytes / 2 ** 20),
  };
  console.log(`disk queue: ${EVENTS} events of ${EVENT.length} bytes (one process; a batch of 1000 per event-loop turn)`);
  console.log(`  phase   events/s  CPU s/million  peak RSS MB`);
  const rates = { memory: perSecond(memory), spill: result.spill_events_per_s, drain: perSecond(drain) };
  for (const [name, m] of [['memory', memory], ['spill', spill], ['drain', drain]]) {
    console.log(`  ${name.padEnd(6)}  ${String(rates[name]).padStart(8)}  ${String(perMillion(m)).padStart(13)}  ${String(m.rssMb).padStart(11)}`);
  }
  console.log(`  spill (paced to what the queue takes): ${spilled.dropped.buffer_full} dropped (buffer_full); queue ${result.disk_mb} MB on disk`);
  console.log(JSON.stringify(result));
} finally {
  rmSync(dir, { recursive: true, force: true });
}
