// Benchmark of issue 3, the cluster on etcd: the time from `drain add` (a put through the etcd
// store) to the first event delivered from every node, for 3 and 10 local nodes (median and max
// of 10 tries). A core's memory (idle, and with 1,000 drains) is scripts/bench/memory.mjs.
// Usage: npm run bench (runs every benchmark), or node scripts/bench/cluster.mjs [--tries N]
import { createServer } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { sleep, startBenchCore, startBenchEtcd } from './lib.mjs';
import { Publisher } from '@logyard/bus';
import { EtcdStore } from '@logyard/store/etcd';

const here = dirname(fileURLToPath(import.meta.url));
const bin = join(here, '../../packages/cli/bin/logyard.js');
const { values: opts } = parseArgs({ options: { tries: { type: 'string', default: '10' } } });
const TRIES = Number(opts.tries);
const root = mkdtempSync(join(tmpdir(), 'logyard-bench-cluster-'));
const children = [];

const startEtcd = () => startBenchEtcd(root, children);
const startCore = (store, id) => startBenchCore(bin, store, id, root, children);

/** A TCP target that notes when the first event from each node arrives. */
async function target() {
  const firstFrom = new Map();
  const server = createServer((socket) => {
    let rest = '';
    socket.setEncoding('utf8').on('data', (chunk) => {
      rest += chunk;
      let nl;
      while ((nl = rest.indexOf('\n')) >= 0) {
        const line = rest.slice(0, nl);
        rest = rest.slice(nl + 1);
        const id = JSON.parse(line).node_id;
        if (!firstFrom.has(id)) firstFrom.set(id, performance.now());
      }
    });
    socket.on('error', () => {});
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return { port: server.address().port, firstFrom, close: () => new Promise((r) => (server.closeAllConnections?.(), server.close(r))) };
}

async function addToAllNodes(store, nodeCount) {
  const cores = [];
  for (let i = 0; i < nodeCount; i++) cores.push(await startCore(store, `n${nodeCount}-${i + 1}`));
  const publishers = cores.map((c) => new Publisher({ runDir: c.runDir, nodeId: c.id }));
  // Every node publishes all the time, so the first event after a drain starts is not waited for.
  const timer = setInterval(() => publishers.forEach((p) => p.publish('bench.cluster', 'tick')), 5);
  const client = await EtcdStore.open(store);
  const times = [];
  for (let t = 0; t < TRIES; t++) {
    const sink = await target();
    const name = `bench-${nodeCount}-${t}`;
    const started = performance.now();
    await client.putDrain(name, `tcp://127.0.0.1:${sink.port}?filter=bench.cluster`);
    while (sink.firstFrom.size < nodeCount) await sleep(2);
    times.push(Math.max(...sink.firstFrom.values()) - started);
    await client.deleteDrain(name);
    await sink.close();
  }
  clearInterval(timer);
  await Promise.all(publishers.map((p) => p.close()));
  await client.close();
  for (const c of cores) {
    c.process.kill('SIGTERM');
    await new Promise((r) => c.process.once('exit', r));
  }
  times.sort((a, b) => a - b);
  return { nodes: nodeCount, tries: TRIES, median_ms: +times[Math.floor(times.length / 2)].toFixed(1), max_ms: +times.at(-1).toFixed(1) };
}

try {
  const store = await startEtcd();
  const latency = [await addToAllNodes(store, 3), await addToAllNodes(store, 10)];
  console.log('\ncluster on etcd: drain add -> first event delivered from every node');
  console.log('NODES  TRIES  MEDIAN_MS  MAX_MS');
  for (const r of latency) console.log(`${String(r.nodes).padEnd(7)}${String(r.tries).padEnd(7)}${String(r.median_ms).padEnd(11)}${r.max_ms}`);
  console.log(JSON.stringify({ benchmark: 'cluster', latency }));
} finally {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  await sleep(200);
  rmSync(root, { recursive: true, force: true });
}
