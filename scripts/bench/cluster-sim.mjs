// Cluster simulator (issue 18): many simulated nodes in a few processes, each doing with the store
// exactly what a core does, with the real code (EtcdStore of packages/store, StatusPublisher of
// packages/core): its lease and keepalive, watches of the formats, tenants and drains, its status
// document written at the real rate while events flow (--busy drains of every node have counters
// that move all the time; the others are idle, as on a real core whose drains filter by key). Against one real etcd, started with the compaction and quota of docs/sizing.md.
// It measures, under load: etcd puts/s, CPU and db size and how stale `drain status` gets (the load
// alone, --load seconds); drain add -> every node notified (--tries drains, one at a time); then how
// long all nodes take to catch up after an etcd outage (--outage seconds, etcd killed and restarted),
// and what their watches read from etcd to catch up (whole listings, or only what was written since).
//
// Usage: node scripts/bench/cluster-sim.mjs [--nodes 100] [--drains 100] [--procs 4] [--tries 10]
//        [--load 20] [--outage 30] [--busy 10] [--full]     (--full: 1,000 nodes x 1,000 drains)
//        [--retention 1m]   (etcd's --auto-compaction-retention, instead of docs/sizing.md's 10s)
// Prints a table and a JSON line. `npm run bench` runs it at its default size.
import { fork } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { benchEtcd, connectionsTo, cpuSeconds, ETCD_FLAGS, etcdDbSizes, sleep } from './lib.mjs';


/** A node that has not seen a drain this long after it was added has missed it: the run fails. */
const SEEN_TIMEOUT_MS = 120_000;
/** Keys in each simulated node's `live` part: a real core publishes its busiest, up to 100. */
const SIM_KEYS = 10;

if (process.argv.includes('--worker')) await worker();
else await controller();

// ---------------------------------------------------------------------------------------------
// A worker process: nodes `first`..`first+count-1`, told what to do by the controller.

async function worker() {
  const { EtcdStore } = await import('@logyard/store/etcd');
  const { DrainRates, Rates, StatusPublisher } = await import('@logyard/core');
  const [uri, first, count, drainCount, busyCount] = process.argv.slice(3);
  const nodes = [];
  /** Drain names the controller waits for: name -> nodes that have not seen it yet. */
  const expected = new Map();
  const report = { failures: 0, writes: 0 };
  /** What the nodes' watches read from etcd to start or catch up (etcd-watch.ts), by kind: reads and keys returned. */
  const watchReads = { list: 0, list_keys: 0, changes: 0, changes_keys: 0, keys: 0, keys_keys: 0 };
  const onWatchRead = ({ kind, keys }) => {
    watchReads[kind]++;
    watchReads[`${kind}_keys`] += keys;
  };
  // How late this process runs what is due (its simulated nodes share its one thread): from the
  // first drain added under load to the report.
  const loopDelay = monitorEventLoopDelay({ resolution: 10 });
  let load = false;

  /** The node has the drains of its `node.drains` now: the drains waited for among them are seen. */
  const settle = (node) => {
    for (const [name, waiting] of expected) {
      if (waiting.has(node.id) && Object.hasOwn(node.drains, name)) {
        waiting.delete(node.id);
        node.seen.set(name, Date.now());
        if (waiting.size === 0) {
          process.send({ type: 'seen', name, at: nodes.map((n) => n.seen.get(name)) });
          expected.delete(name);
        }
      }
    }
  };

  async function startNode(id) {
    // Connections of its own, as a core has: shared ones would put every node of a process on one.
    const node = { id, seen: new Map(), drains: {}, rates: new Rates(), drainRates: new DrainRates(), eventsIn: 0, store: await EtcdStore.open(uri, { ownConnections: true, onWatchRead }) };
    try {
      return await runNode(node);
    } catch (err) {
      await node.publisher?.close();
      await node.store.close();
      throw err;
    }
  }

  async function runNode(node) {
    const { id } = node;
    await node.store.registerNode({ node_id: id, started: Math.floor(Date.now() / 1000), version: 'sim' });
    node.publisher = new StatusPublisher({
      store: node.store,
      nodeId: id,
      drains: () => node.drains,
      live: (moved) => live(node, moved),
      onFailed: () => report.failures++,
      onWritten: () => report.writes++,
    });
    // The watches a core opens, in its order: formats, tenants, drains.
    await node.store.watchFormats(() => undefined);
    await node.store.watchTenants(() => undefined);
    let ready;
    const listed = new Promise((resolve) => (ready = resolve));
    await node.store.watchDrains(({ entries: all, changed }) => {
      // As a core's drain set converges (DrainSet.apply) on the drains the watch says changed: new
      // drains start, gone ones stop, the others are left as they are. A new drain is as a real
      // core's TCP drain: its one drop reason counted from 0.
      // As the core, it tells its publisher of a drain that came (a change of state to write at
      // once), not of one that went (written with the next counters).
      const drains = node.drains;
      let came = false;
      for (const name of changed) {
        if (!all.has(name)) delete drains[name];
        else if (!Object.hasOwn(drains, name)) {
          drains[name] = { state: 'RUNNING', sent: 0, dropped: { buffer_full: 0 }, buffered: 0 };
          came = true;
        }
      }
      if (came) node.publisher.changed();
      settle(node);
      if (all.size >= Number(drainCount)) ready();
    });
    await listed;
    return node;
  }

  /**
   * The `live` part of a real core's document (core.ts live()): events in, its busiest keys (a real
   * core publishes up to 100) and the rates of its busy drains, by the core's own code (the drains
   * whose counters moved, as the publisher's encoder tells).
   */
  const live = (node, moved) => {
    const keys = Array.from({ length: SIM_KEYS }, (_, k) => ({ key: `app.${k}`, events_per_s: 10, events_10m: 6_000, last_seen: Math.floor(Date.now() / 1000) }));
    const drains = node.drainRates.read(moved, (name) => (Object.hasOwn(node.drains, name) ? node.drains[name] : undefined));
    const result = { in: node.eventsIn, in_per_s: node.rates.rate('\0in', node.eventsIn), clients: [], keys, drains };
    node.rates.sweep();
    return result;
  };

  // Events flow: the counters of each node's first --busy drains by name move (probes added later
  // stay idle), so every node writes counters at its real rate. Their names are taken once: a
  // for-in over 1,000 drains of every node every second was the simulator's own cost, not a core's.
  setInterval(() => {
    if (!load) return;
    for (const node of nodes) {
      node.eventsIn += 100;
      node.busy ??= Object.keys(node.drains).sort().slice(0, Number(busyCount));
      for (const name of node.busy) if (Object.hasOwn(node.drains, name)) node.drains[name].sent += 100;
    }
  }, 1_000);

  process.on('message', async (message) => {
    if (message.type === 'expect') {
      const waiting = new Set(nodes.map((n) => n.id));
      for (const node of nodes) if (node.seen.has(message.name)) waiting.delete(node.id);
      expected.set(message.name, waiting);
      // Already there on every node (possible after an outage): answer at once.
      for (const node of nodes) settle(node);
    } else if (message.type === 'load') load = message.on;
    else if (message.type === 'report') {
      const ms = (ns) => Math.round(ns / 1e6);
      process.send({ type: 'report', ...report, loop_delay_ms: { p50: ms(loopDelay.percentile(50)), p99: ms(loopDelay.percentile(99)), max: ms(loopDelay.max) } });
    } else if (message.type === 'watch-reads') process.send({ type: 'watch-reads', ...watchReads });
    else if (message.type === 'measure-loop') loopDelay.enable();
    else if (message.type === 'stop') {
      await Promise.all(nodes.map(async (n) => (await n.publisher.close(), await n.store.close())));
      process.exit(0);
    }
  });

  /** As a core under a service manager: one whose store did not answer at start is started again. */
  async function startNodeRetrying(id) {
    for (;;) {
      try {
        return await startNode(id);
      } catch (err) {
        report.failures++;
        console.error(`cluster-sim: ${id} did not start (${err.message}); again in 1 s`);
        await sleep(1_000);
      }
    }
  }

  const ids = Array.from({ length: Number(count) }, (_, i) => `sim-${String(Number(first) + i).padStart(4, '0')}`);
  // A few at a time, as cores of a cluster start.
  for (let i = 0; i < ids.length; i += 10) nodes.push(...(await Promise.all(ids.slice(i, i + 10).map(startNodeRetrying))));
  process.send({ type: 'ready' });
}

// ---------------------------------------------------------------------------------------------
// The controller: etcd, the workers, and the measurements.

async function controller() {
  const { values: opts } = parseArgs({
    options: {
      nodes: { type: 'string', default: '100' },
      drains: { type: 'string', default: '100' },
      procs: { type: 'string', default: '4' },
      tries: { type: 'string', default: '10' },
      load: { type: 'string', default: '20' },
      outage: { type: 'string', default: '30' },
      busy: { type: 'string', default: '10' },
      full: { type: 'boolean', default: false },
      retention: { type: 'string' },
    },
    // `npm run bench` passes every benchmark the flags of all.
    strict: false,
  });
  const NODES = opts.full ? 1000 : Number(opts.nodes);
  const DRAINS = opts.full ? 1000 : Number(opts.drains);
  const PROCS = Math.min(NODES, opts.full ? 6 : Number(opts.procs));
  const TRIES = Number(opts.tries);
  const LOAD_S = Number(opts.load);
  const OUTAGE_S = Number(opts.outage);

  const root = mkdtempSync(join(tmpdir(), 'logyard-bench-sim-'));
  // With CLUSTER_SIM_PROFILE: when each phase began, on the clock of the workers' CPU profiles
  // (CLOCK_MONOTONIC, in µs), to read a profile phase by phase.
  const mark = (what) => process.env.CLUSTER_SIM_PROFILE && console.error(`cluster-sim: mark ${what} ${process.hrtime.bigint() / 1000n}`);
  const children = [];
  const { EtcdStore } = await import('@logyard/store/etcd');
  const { Etcd3 } = await import('etcd3');
  try {
    const etcdFlags = opts.retention ? ETCD_FLAGS.map((f) => (f.startsWith('--auto-compaction-retention=') ? `--auto-compaction-retention=${opts.retention}` : f)) : ETCD_FLAGS;
    const etcd = await benchEtcd(root, children, etcdFlags);
    const etcdPort = Number(new URL(etcd.url).port);
    const admin = new Etcd3({ hosts: etcd.url });
    const client = await EtcdStore.open(etcd.uri);
    const revision = async () => Number((await admin.get('/logyard/none').exec()).header.revision);
    const mb = (bytes) => +(bytes / 1e6).toFixed(1);
    /** etcd's database file and what of it is in use, in MB (lib.mjs etcdDbSizes). */
    const dbSizes = async () => {
      const { total, in_use } = await etcdDbSizes(etcd.url);
      return { total: mb(total), in_use: mb(in_use) };
    };
    // The largest the database got during the run, sampled every second (etcd away: no sample).
    const dbPeak = { total: 0, in_use: 0 };
    const dbSampler = setInterval(() => {
      dbSizes().then(({ total, in_use }) => {
        dbPeak.total = Math.max(dbPeak.total, total || 0);
        dbPeak.in_use = Math.max(dbPeak.in_use, in_use || 0);
      }, () => undefined);
    }, 1_000);
    dbSampler.unref();

    // The drains, before the nodes start (a cluster's drains are there before most of its cores).
    for (let i = 0; i < DRAINS; i += 200) {
      await Promise.all(
        Array.from({ length: Math.min(200, DRAINS - i) }, (_, k) =>
          client.putDrain(`drain-${String(i + k).padStart(4, '0')}`, `tcp://10.0.0.1:${1000 + ((i + k) % 60000)}?filter=app.${i + k}`),
        ),
      );
    }

    const startAt = Date.now();
    const workers = [];
    const per = Math.ceil(NODES / PROCS);
    for (let p = 0; p < PROCS; p++) {
      const count = Math.min(per, NODES - p * per);
      const w = fork(fileURLToPath(import.meta.url), ['--worker', etcd.uri, String(p * per), String(count), String(DRAINS), opts.busy], {
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
        ...(process.env.CLUSTER_SIM_PROFILE ? { execArgv: ['--cpu-prof', '--cpu-prof-dir', process.env.CLUSTER_SIM_PROFILE] } : {}),
      });
      w.setMaxListeners(0);
      children.push(w);
      workers.push(w);
    }
    await Promise.all(workers.map((w) => message(w, 'ready')));
    const startup_s = +((Date.now() - startAt) / 1000).toFixed(1);
    console.error(`cluster-sim: ${NODES} nodes x ${DRAINS} drains up in ${startup_s} s`);

    /** The watches' reads so far, all workers together. */
    const watchReads = async () => {
      const counts = await Promise.all(workers.map((w) => (w.send({ type: 'watch-reads' }), message(w, 'watch-reads'))));
      const sum = {};
      for (const c of counts) for (const [k, v] of Object.entries(c)) if (k !== 'type') sum[k] = (sum[k] ?? 0) + v;
      return sum;
    };

    /** Puts drain `name` and resolves with the time from the put to each node's watch delivering it. */
    const addAndWait = async (name, put) => {
      const seen = Promise.all(workers.map((w) => message(w, 'seen', (m) => m.name === name, SEEN_TIMEOUT_MS)));
      workers.forEach((w) => w.send({ type: 'expect', name }));
      await sleep(50); // the workers have the expectation before the put
      const t0 = Date.now();
      await put();
      return { t0, at: (await seen).flatMap((m) => m.at) };
    };

    // Under load: counters move on every node. First LOAD_S seconds of that alone (puts/s, CPU, db,
    // how stale `drain status` is), then drains added one at a time.
    workers.forEach((w) => w.send({ type: 'load', on: true }));
    await sleep(10_000); // every node has written its counters once or more
    const cpu0 = { etcd: cpuSeconds(etcd.pid()), workers: workers.reduce((s, w) => s + cpuSeconds(w.pid), 0) };
    const rev0 = await revision();
    const t0 = Date.now();
    let staleMax = 0;
    let statusReadMs = 0;
    const statusReadFailures = [];
    while (Date.now() - t0 < LOAD_S * 1000) {
      // What `drain status` reads: every node's document, page by page.
      const readAt = Date.now();
      try {
        const documents = await client.listNodeStatus();
        statusReadMs = Math.max(statusReadMs, Date.now() - readAt);
        for (const d of documents) staleMax = Math.max(staleMax, readAt / 1000 - d.updated);
      } catch (err) {
        statusReadFailures.push(err.message);
      }
      await sleep(2_000);
    }
    const seconds = (Date.now() - t0) / 1000;
    const etcd_connections = connectionsTo(etcdPort);
    const puts_per_s = +(((await revision()) - rev0) / seconds).toFixed(0);
    const etcd_cpu = +((cpuSeconds(etcd.pid()) - cpu0.etcd) / seconds).toFixed(2);
    const sim_cpu = +((workers.reduce((s, w) => s + cpuSeconds(w.pid), 0) - cpu0.workers) / seconds).toFixed(2);
    const db_load = await dbSizes();

    const perNode = [];
    const allNodes = [];
    workers.forEach((w) => w.send({ type: 'measure-loop' }));
    mark('adds');
    const simCpuNow = () => workers.reduce((s, w) => s + cpuSeconds(w.pid), 0);
    const addsCpu0 = simCpuNow();
    const addsAt = Date.now();
    for (let t = 0; t < TRIES; t++) {
      const name = `probe-${t}`;
      const { t0: put, at } = await addAndWait(name, () => retrying(() => client.putDrain(name, 'tcp://10.0.0.2:9?filter=probe')));
      const latencies = at.map((x) => x - put);
      perNode.push(...latencies);
      allNodes.push(Math.max(...latencies));
      await retrying(() => client.deleteDrain(name));
      await sleep(1_000);
    }
    // A simulated node's CPU per drain added or deleted: the simulator's CPU while drains were added
    // and deleted, less what the load alone cost over as long (sim_cpu_cores), per node and change.
    const addsCpu = simCpuNow() - addsCpu0 - sim_cpu * ((Date.now() - addsAt) / 1000);
    const cpu_us_per_node_change = TRIES > 0 ? Math.round((addsCpu * 1e6) / (NODES * TRIES * 2)) : null;
    const reports = await Promise.all(workers.map((w) => (w.send({ type: 'report' }), message(w, 'report'))));
    // Each drain added or deleted makes every node write its document once more.
    const db_after_adds = await dbSizes();

    // An etcd outage: killed, down OUTAGE_S seconds, restarted; then a drain is added.
    let outage = null;
    if (OUTAGE_S > 0) {
      const simCpu = () => workers.reduce((s, w) => s + cpuSeconds(w.pid), 0);
      const cpuAtKill = simCpu();
      const readsAtKill = await watchReads();
      mark('kill');
      await etcd.kill();
      await sleep(OUTAGE_S * 1000);
      const cpuAtRestart = simCpu();
      await etcd.restart();
      const back = Date.now();
      mark('restart');
      const etcdCpuAtRestart = cpuSeconds(etcd.pid());
      // The controller's clients after the outage are new ones: no circuit breaker of its own,
      // tripped by the outage (etcd3's default holds a host for 5 s), delays what it measures.
      const fresh = new Etcd3({ hosts: etcd.url });
      const writer = await EtcdStore.open(etcd.uri);
      const restartRevision = await retrying(async () => Number((await fresh.get('/logyard/none').exec()).header.revision));
      const { at } = await addAndWait('after-outage', () => retrying(() => writer.putDrain('after-outage', 'tcp://10.0.0.2:9?filter=probe')));
      const watches_s = (Math.max(...at) - back) / 1000;
      // Every node's status written since etcd restarted (the drain added makes each write it): a
      // status put succeeds only under a lease etcd still holds, kept or new, so keys alone (an old
      // lease's stay until it expires) do not tell. Node entries written again: nodes that took a new lease.
      // Keys, not a count: etcd applies min_mod_revision to the keys it returns, not to count_only's count.
      const since = (p) => retrying(async () => (await fresh.getAll().prefix(p).minModRevision(restartRevision + 1).keys()).length);
      for (;;) {
        if ((await since('/logyard/status/')) >= NODES) break;
        await sleep(250);
      }
      mark('caught-up');
      const etcdCpuCaughtUp = cpuSeconds(etcd.pid());
      const nodesRenewed = await since('/logyard/nodes/');
      fresh.close();
      await writer.close();
      // The simulator processes' CPU while etcd was away (a real node's cost of an outage) and from
      // its restart until every node caught up (what delays the catch-up on this machine).
      const cpuCaughtUp = simCpu();
      const readsCaughtUp = await watchReads();
      outage = {
        seconds: OUTAGE_S,
        watches_caught_up_s: +watches_s.toFixed(1),
        all_caught_up_s: +((Date.now() - back) / 1000).toFixed(1),
        sim_cpu_s_while_away: +(cpuAtRestart - cpuAtKill).toFixed(1),
        sim_cpu_s_catching_up: +(cpuCaughtUp - cpuAtRestart).toFixed(1),
        etcd_cpu_s_catching_up: +(etcdCpuCaughtUp - etcdCpuAtRestart).toFixed(1),
        nodes_with_new_lease: nodesRenewed,
        // What the nodes' watches (3 a node) read from etcd from the outage until every node caught up.
        watch_reads: Object.fromEntries(Object.keys(readsCaughtUp).map((k) => [k, readsCaughtUp[k] - readsAtKill[k]])),
      };
    }

    const pct = (list, p) => +[...list].sort((a, b) => a - b)[Math.min(list.length - 1, Math.floor((list.length * p) / 100))].toFixed(0);
    const result = {
      benchmark: 'cluster-sim',
      nodes: NODES,
      drains: DRAINS,
      busy_drains: Number(opts.busy),
      procs: PROCS,
      startup_s,
      notify_ms: { p50: pct(perNode, 50), p99: pct(perNode, 99), every_node_median: pct(allNodes, 50), every_node_max: pct(allNodes, 100) },
      cpu_us_per_node_change,
      under_load: {
        seconds: +seconds.toFixed(0),
        etcd_puts_per_s: puts_per_s,
        etcd_connections,
        etcd_cpu_cores: etcd_cpu,
        sim_cpu_cores: sim_cpu,
        etcd_db_mb: db_load.total,
        etcd_db_in_use_mb: db_load.in_use,
        status_stale_max_s: +staleMax.toFixed(1),
        status_read_max_ms: statusReadMs,
        status_read_failures: statusReadFailures.length,
        ...(statusReadFailures.length ? { status_read_failure: statusReadFailures[0] } : {}),
        status_writes: reports.reduce((s, r) => s + r.writes, 0),
        status_write_failures: reports.reduce((s, r) => s + r.failures, 0),
      },
      // While drains were added: how late each simulator process ran what was due (the worst process).
      sim_loop_delay_ms: {
        p50: Math.max(...reports.map((r) => r.loop_delay_ms.p50)),
        p99: Math.max(...reports.map((r) => r.loop_delay_ms.p99)),
        max: Math.max(...reports.map((r) => r.loop_delay_ms.max)),
      },
      etcd_db_mb_after_adds: db_after_adds.total,
      etcd_db_in_use_mb_after_adds: db_after_adds.in_use,
      // The whole run (load, adds, outage), sampled every second: the file's high-water mark and the most in use.
      etcd_db_mb_max: dbPeak.total,
      etcd_db_in_use_mb_max: dbPeak.in_use,
      outage,
      etcd_flags: etcdFlags,
    };
    clearInterval(dbSampler);
    await Promise.all(workers.map((w) => (w.send({ type: 'stop' }), new Promise((r) => w.once('exit', r)))));
    await client.close();
    admin.close();

    console.log(`\ncluster simulator: ${NODES} nodes x ${DRAINS} drains on one etcd (${PROCS} processes)`);
    console.log(`drain add -> node notified: p50 ${result.notify_ms.p50} ms, p99 ${result.notify_ms.p99} ms; every node: median ${result.notify_ms.every_node_median} ms, max ${result.notify_ms.every_node_max} ms`);
    console.log(`a simulated node's CPU per drain added or deleted (beyond the load's): ${cpu_us_per_node_change} µs`);
    const l = result.under_load;
    console.log(`under load (${l.seconds} s): etcd ${l.etcd_connections} client connections, ${l.etcd_puts_per_s} puts/s, etcd CPU ${l.etcd_cpu_cores} cores, simulated nodes ${l.sim_cpu_cores} cores, db ${l.etcd_db_mb} MB (${l.etcd_db_in_use_mb} MB in use)`);
    console.log(`simulator processes while drains were added: event loop late by p50 ${result.sim_loop_delay_ms.p50} ms, p99 ${result.sim_loop_delay_ms.p99} ms, max ${result.sim_loop_delay_ms.max} ms`);
    console.log(`etcd db after the ${TRIES} drains added and deleted: ${result.etcd_db_mb_after_adds} MB (${result.etcd_db_in_use_mb_after_adds} MB in use); largest in the run: ${result.etcd_db_mb_max} MB (${result.etcd_db_in_use_mb_max} MB in use)`);
    console.log(`drain status: at most ${l.status_stale_max_s} s stale, read in at most ${l.status_read_max_ms} ms; ${l.status_read_failures} reads failed${l.status_read_failure ? ` (${l.status_read_failure})` : ''}`);
    if (outage) {
      console.log(`after a ${OUTAGE_S} s etcd outage: watches caught up ${outage.watches_caught_up_s} s, every node entry and status back ${outage.all_caught_up_s} s after etcd`);
      console.log(`CPU: simulator ${outage.sim_cpu_s_while_away} s while etcd was away; from its restart until every node caught up, simulator ${outage.sim_cpu_s_catching_up} s, etcd ${outage.etcd_cpu_s_catching_up} s`);
      const r = outage.watch_reads;
      console.log(`watches' reads while catching up: ${r.list} whole listings (${r.list_keys} keys), ${r.changes} of what was written since (${r.changes_keys} keys), ${r.keys} of the keys alone (${r.keys_keys} keys)`);
    }
    console.log(JSON.stringify(result));
  } finally {
    for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
    await sleep(200);
    rmSync(root, { recursive: true, force: true });
  }
}

/** Runs `operation` until it succeeds, as an admin would retry a `drain add` that timed out. */
async function retrying(operation) {
  for (;;) {
    try {
      return await operation();
    } catch {
      await sleep(100);
    }
  }
}

/** The next message of `type` (and matching `match`) from worker `w`, within `timeoutMs` if given. */
function message(w, type, match = () => true, timeoutMs = 0) {
  return new Promise((resolve, reject) => {
    const done = () => {
      w.off('message', onMessage);
      w.off('exit', onExit);
      clearTimeout(timer);
    };
    const onMessage = (m) => {
      if (m.type !== type || !match(m)) return;
      done();
      resolve(m);
    };
    const onExit = (code) => (done(), reject(new Error(`a simulator process exited with ${code}`)));
    const timer = timeoutMs ? setTimeout(() => (done(), reject(new Error(`no ${type} message within ${timeoutMs} ms`))), timeoutMs) : undefined;
    w.on('message', onMessage);
    w.once('exit', onExit);
  });
}
