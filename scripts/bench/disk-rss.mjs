// Issue 11, point 6: a core's memory with a big disk queue. A queue of --mb MB (default 500) of
// 221-byte events is written for drain `big` (disk=1GiB) of a node whose target is down; then a
// real `logyard core` starts (it counts the queue, reading it a chunk at a time), and its target
// opens: the core's RSS (from /proc) is sampled every 100 ms at start and while it drains.
// Prints a table and a JSON line. Usage: node scripts/bench/disk-rss.mjs [--mb N]
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { DiskQueue } from '../../packages/drains/dist/index.js';
import { freePort, getStatus, sleep, startBenchCore } from './lib.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const bin = join(here, '../../packages/cli/bin/logyard.js');
const { values: opts } = parseArgs({ options: { mb: { type: 'string', default: '500' } }, strict: false });
const EVENT = JSON.stringify({ text: 'x'.repeat(120), node_id: 'bench', unix_time: 1700000000.123, human_time: '2023-11-14T22:13:20.123+00:00' });
const rssMb = (pid) => Math.round(Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))[1]) / 1024);

const root = mkdtempSync(join(tmpdir(), 'logyard-bench-disk-rss-'));
const children = [];
try {
  const stateDir = join(root, 'n1', 'state');
  const store = `file://${join(stateDir, 'store')}`;
  const port = await freePort();
  const flags = ['--store', store, '--node-id', 'n1', '--run-dir', join(root, 'n1', 'run'), '--state-dir', stateDir];
  const add = spawnSync(process.execPath, [bin, ...flags, 'drain', 'add', 'big', `tcp://127.0.0.1:${port}?disk=1GiB`], { env: { ...process.env, LOGYARD_CONFIG: '' } });
  if (add.status !== 0) throw new Error(String(add.stderr));

  const queue = await DiskQueue.open(join(stateDir, 'buffers', 'big'), { maxBytes: 2 ** 30, sync: 1000 });
  const batch = Array.from({ length: 16_384 }, () => ({ key: 'app.bench', json: EVENT }));
  while (queue.bytes < Number(opts.mb) * 2 ** 20) await queue.append(batch);
  const queued = queue.events;
  const queuedMb = Math.round(queue.bytes / 2 ** 20);
  await queue.close();

  const t0 = Date.now();
  const core = await startBenchCore(bin, store, 'n1', root, children);
  const pid = core.process.pid;
  let startPeak = rssMb(pid);
  for (;;) {
    startPeak = Math.max(startPeak, rssMb(pid));
    const drain = (await getStatus(core.runDir)).drains.find((d) => d.name === 'big');
    if (drain?.disk_events === queued) break;
    await sleep(100);
  }
  const counted = (Date.now() - t0) / 1000;
  let lines = 0;
  const server = createServer((socket) => socket.on('data', (c) => { for (let i = c.indexOf(10); i >= 0; i = c.indexOf(10, i + 1)) lines++; }));
  await new Promise((r) => server.listen(port, '127.0.0.1', r));
  const t1 = Date.now();
  let drainPeak = 0;
  while (lines < queued) {
    drainPeak = Math.max(drainPeak, rssMb(pid));
    await sleep(100);
  }
  const drainSeconds = (Date.now() - t1) / 1000;
  server.close();
  const result = { bench: 'disk-rss', queued_events: queued, queued_mb: queuedMb, start_seconds: counted, start_rss_mb: startPeak, drain_rss_mb: drainPeak, drain_seconds: drainSeconds };
  console.log(`core with ${queuedMb} MB (${queued} events) queued for one drain`);
  console.log(`  started and counted in ${counted.toFixed(1)} s, peak RSS ${startPeak} MB`);
  console.log(`  drained (incl. the first retry, up to 5 s) in ${drainSeconds.toFixed(1)} s, peak RSS ${drainPeak} MB`);
  console.log(JSON.stringify(result));
} finally {
  for (const child of children) child.kill('SIGKILL');
  rmSync(root, { recursive: true, force: true });
}
