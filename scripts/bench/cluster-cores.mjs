// Real cores on one etcd (issue 18): N `logyard core` processes on this machine, D drains in the
// store, events flowing on every node, and what an operator sees: how stale `logyard drain status`
// gets (how old its oldest row is when the answer comes: that row's `updated` (when its node wrote it) to
// the answer, so the command's own time counts), how long it takes to answer, and what the cores cost (RSS, CPU) and etcd (puts/s, CPU, db size).
//
// Events: every node publishes --rate events/s under `bench.flow`; --flowing of the drains take them
// (to a TCP sink here), the others (files) filter keys nobody publishes. Any drain's counters moving makes a
// node rewrite its document, so every node's status is written at its counters' pace.
//
// Usage: node scripts/bench/cluster-cores.mjs [--cores 100] [--drains 1000] [--flowing 10]
//        [--rate 5] [--load 60]
// Prints a table and a JSON line.
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Publisher } from '@logyard/bus';
import { EtcdStore } from '@logyard/store/etcd';
import { Etcd3 } from 'etcd3';
import { benchEtcd, cpuSeconds, ETCD_FLAGS, etcdDbBytes, sink, sleep, startBenchCore } from './lib.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const bin = join(here, '../../packages/cli/bin/logyard.js');
const { values: opts } = parseArgs({
  options: {
    cores: { type: 'string', default: '100' },
    drains: { type: 'string', default: '1000' },
    flowing: { type: 'string', default: '10' },
    rate: { type: 'string', default: '5' },
    load: { type: 'string', default: '60' },
  },
  // `npm run bench` passes every benchmark the flags of all.
  strict: false,
});
const CORES = Number(opts.cores);
const DRAINS = Number(opts.drains);
const FLOWING = Math.min(DRAINS, Number(opts.flowing));
const RATE = Number(opts.rate);
const LOAD_S = Number(opts.load);
/** How long the documents of every node may take to hold every drain before the load starts. */
const SETTLE_MS = 120_000;
/** Cores started at once (each waits until its status socket answers). */
const STARTING_AT_ONCE = 4;

const root = mkdtempSync(join(tmpdir(), 'logyard-bench-cores-'));
const children = [];

/** `logyard drain status --json` as a user runs it: its rows, how long it took, or its error. */
function drainStatus(store) {
  return new Promise((resolve) => {
    const began = Date.now();
    execFile(process.execPath, [bin, '--store', store, 'drain', 'status', '--json'], { maxBuffer: 1 << 30, env: { ...process.env, LOGYARD_CONFIG: '' } }, (err, stdout, stderr) => {
      const ms = Date.now() - began;
      if (err) resolve({ began, ms, error: (stderr || err.message).trim().split('\n')[0] });
      else resolve({ began, ms, rows: JSON.parse(stdout) });
    });
  });
}

/** How many lines of the cores' logs say the store failed, was answering again, or a drain was retrying. */
function logCounts(files) {
  const counts = { store_failing: 0, store_answering_again: 0, drain_retrying: 0 };
  for (const file of files) {
    const text = readFileSync(file, 'utf8');
    counts.store_failing += text.match(/store failing/g)?.length ?? 0;
    counts.store_answering_again += text.match(/answering again/g)?.length ?? 0;
    counts.drain_retrying += text.match(/: RETRYING/g)?.length ?? 0;
  }
  return counts;
}

const rssMb = (pid) => Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) / 1024;
const loadAverage = () => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');

try {
  const files = join(root, 'files');
  mkdirSync(files);
  const config = join(root, 'logyard.yaml');
  writeFileSync(config, `file_drain_roots: [${JSON.stringify(files)}]\n`);
  const etcd = await benchEtcd(root, children, ETCD_FLAGS);
  const admin = await EtcdStore.open(etcd.uri);
  const etcdClient = new Etcd3({ hosts: etcd.url });
  const target = await sink();
  for (let i = 0; i < DRAINS; i += 200) {
    await Promise.all(
      Array.from({ length: Math.min(200, DRAINS - i) }, (_, k) => {
        const n = i + k;
        // The idle ones are files (below the cores' file_drain_roots): a thousand TCP or UDP drains
        // on each of 100 cores would need 100,000 of this machine's 28,000 ephemeral ports (UDP
        // drains failed with EADDRINUSE). A status document does not care which.
        const uri = n < FLOWING ? `tcp://127.0.0.1:${target.port}?filter=bench.flow` : `file://${files}/drain-${n}.log?filter=nothing.${n}`;
        return admin.putDrain(`drain-${String(n).padStart(4, '0')}`, uri);
      }),
    );
  }

  const startedAt = Date.now();
  const cores = [];
  for (let i = 0; i < CORES; i += STARTING_AT_ONCE) {
    const ids = Array.from({ length: Math.min(STARTING_AT_ONCE, CORES - i) }, (_, k) => `core-${String(i + k).padStart(3, '0')}`);
    cores.push(...(await Promise.all(ids.map((id) => startBenchCore(bin, etcd.uri, id, root, children, { logFile: join(root, `${id}.log`), config })))));
  }
  const startup_s = +((Date.now() - startedAt) / 1000).toFixed(1);
  console.error(`cluster-cores: ${CORES} cores up in ${startup_s} s (load average ${loadAverage()})`);

  // Events on every node, spread over the second.
  const publishers = cores.map((c) => new Publisher({ runDir: c.runDir, nodeId: c.id }));
  let tick = 0;
  const flow = setInterval(() => {
    tick++;
    for (const p of publishers) if (Math.random() < RATE / 10) p.publish('bench.flow', `event ${tick}`);
  }, 100);

  // Until every node's document holds every drain (at most SETTLE_MS: what is missing then shows
  // in the figures).
  for (const until = Date.now() + SETTLE_MS; Date.now() < until; ) {
    const nodes = await admin.listNodeStatus().catch(() => []);
    if (nodes.length >= CORES && nodes.every((n) => Object.keys(n.drains).length >= DRAINS)) break;
    await sleep(2_000);
  }
  const settled_s = +((Date.now() - startedAt) / 1000).toFixed(1);
  console.error(`cluster-cores: every node's status holds the ${DRAINS} drains ${settled_s} s after the first core started`);

  const revision = async () => Number((await etcdClient.get('/logyard/none').exec()).header.revision);
  const cpu0 = { etcd: cpuSeconds(etcd.pid()), cores: cores.reduce((s, c) => s + cpuSeconds(c.process.pid), 0) };
  const rev0 = await revision();
  const sent0 = target.count;
  const t0 = Date.now();
  const reads = [];
  /** Node entries in etcd at each read: a core whose lease was lost is missing until it wrote them again. */
  const nodeEntries = [];
  while (Date.now() - t0 < LOAD_S * 1000) {
    nodeEntries.push(await etcdClient.getAll().prefix('/logyard/nodes/').count().catch(() => -1));
    const read = await drainStatus(etcd.uri);
    if (read.rows) {
      // How old the oldest row is when the answer is shown: its write's second, to the answer.
      const oldest = Math.min(...read.rows.map((r) => r.updated));
      // Also its age when the command began: what the documents in etcd were, without the command's own
      // time (negative when every document was written again while it ran).
      reads.push({ ms: read.ms, rows: read.rows.length, stale_s: +((read.began + read.ms) / 1000 - oldest).toFixed(1), stale_at_start_s: +(read.began / 1000 - oldest).toFixed(1) });
    } else reads.push({ ms: read.ms, error: read.error });
    await sleep(1_000);
  }
  const seconds = (Date.now() - t0) / 1000;
  const rss = cores.map((c) => rssMb(c.process.pid)).sort((a, b) => a - b);
  const answered = reads.filter((r) => r.rows !== undefined);
  const result = {
    benchmark: 'cluster-cores',
    cores: CORES,
    drains: DRAINS,
    flowing_drains: FLOWING,
    events_per_s_per_node: RATE,
    startup_s,
    settled_s,
    load_s: +seconds.toFixed(0),
    delivered_per_s: +((target.count - sent0) / seconds).toFixed(0),
    drain_status: {
      reads: reads.length,
      failed: reads.length - answered.length,
      ...(answered.length < reads.length ? { first_error: reads.find((r) => r.error).error } : {}),
      rows: answered.at(-1)?.rows ?? 0,
      stale_max_s: Math.max(...answered.map((r) => r.stale_s)),
      stale_at_start_max_s: Math.max(...answered.map((r) => r.stale_at_start_s)),
      answer_ms_median: answered.map((r) => r.ms).sort((a, b) => a - b)[Math.floor(answered.length / 2)],
      answer_ms_max: Math.max(...answered.map((r) => r.ms)),
    },
    node_entries_min: Math.min(...nodeEntries),
    status_document_kb: +(((await etcdClient.get(`/logyard/status/${cores[0].id}`).string()) ?? '').length / 1000).toFixed(1),
    // Lines each core logged about the store (its lease lost, writes failing) and drains retrying.
    core_log: logCounts(cores.map((c) => join(root, `${c.id}.log`))),
    core_rss_mb: { median: +rss[Math.floor(rss.length / 2)].toFixed(1), max: +rss.at(-1).toFixed(1), total: +rss.reduce((a, b) => a + b, 0).toFixed(0) },
    cores_cpu: +((cores.reduce((s, c) => s + cpuSeconds(c.process.pid), 0) - cpu0.cores) / seconds).toFixed(2),
    etcd: {
      puts_per_s: +(((await revision()) - rev0) / seconds).toFixed(1),
      cpu: +((cpuSeconds(etcd.pid()) - cpu0.etcd) / seconds).toFixed(2),
      db_mb: +((await etcdDbBytes(etcd.url)) / 1e6).toFixed(1),
    },
    load_average: loadAverage(),
  };
  clearInterval(flow);
  await Promise.all(publishers.map((p) => p.close()));
  for (const c of cores) c.process.kill('SIGTERM');
  await Promise.all(cores.map((c) => new Promise((r) => (c.process.exitCode !== null ? r() : c.process.once('exit', r)))));
  await admin.close();
  etcdClient.close();
  target.server.close();

  const d = result.drain_status;
  console.log(`\n${CORES} real cores x ${DRAINS} drains on one etcd (${FLOWING} drains taking ${RATE} events/s on every node), ${result.load_s} s`);
  console.log(`drain status: ${d.reads} reads, ${d.failed} failed, ${d.rows} rows; oldest row at most ${d.stale_max_s} s old when shown (${d.stale_at_start_max_s} s when the command began); answered in ${d.answer_ms_median} ms (median), ${d.answer_ms_max} ms (max)`);
  console.log(`a node's status document: ${result.status_document_kb} KB`);
  console.log(`node entries in etcd: at least ${result.node_entries_min} of ${CORES} at every read; core logs: ${JSON.stringify(result.core_log)}`);
  console.log(`cores: RSS median ${result.core_rss_mb.median} MB, max ${result.core_rss_mb.max} MB, total ${result.core_rss_mb.total} MB; CPU ${result.cores_cpu} cores`);
  console.log(`etcd: ${result.etcd.puts_per_s} puts/s, CPU ${result.etcd.cpu} cores, db ${result.etcd.db_mb} MB; load average ${result.load_average}`);
  console.log(JSON.stringify(result));
} finally {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  await sleep(200);
  rmSync(root, { recursive: true, force: true });
}
