// One node's CPU per drain added or deleted (issue 18), in one process, without etcd or a network:
// the real drains watch (PrefixWatch of packages/store, fed etcd's watch events as etcd sends them),
// the cluster simulator's stand-in for the core applying the delivery, and the status document the
// core's publisher builds and writes once per drain added (the encoder, its node's `live` part with
// the rates of its drains, by the core's own code). gRPC and etcd are left out: what remains is what
// this code costs per change, which the cluster simulator (scripts/bench/cluster-sim.mjs) measures
// with them, noisily.
//
// Usage: node scripts/bench/node-drain-change.mjs [--drains 1000] [--busy 10] [--changes 4000]
// Prints µs of CPU per change, by part, and a JSON line.
import { parseArgs } from 'node:util';
import { NodeStatusEncoder, withUpdated } from '@logyard/store';
import { DrainRates } from '@logyard/core';
import { PrefixWatch } from '../../packages/store/dist/etcd-watch.js';
import { DRAINS, drainFromKv } from '../../packages/store/dist/etcd-layout.js';

const { values: opts } = parseArgs({
  options: { drains: { type: 'string', default: '1000' }, busy: { type: 'string', default: '10' }, changes: { type: 'string', default: '4000' } },
});
const DRAINS_COUNT = Number(opts.drains);
const CHANGES = Number(opts.changes);

let revision = 1;
const kv = (name, uri) => ({ key: Buffer.from(DRAINS + name), value: Buffer.from(JSON.stringify({ uri, created: 1_700_000_000 })), mod_revision: String(++revision) });
const initial = Array.from({ length: DRAINS_COUNT }, (_, i) => kv(`drain-${String(i).padStart(4, '0')}`, `tcp://10.0.0.1:${1000 + i}?filter=app.${i}`));

// The node, as the cluster simulator's: its drains' states, its rates, its encoder.
const drains = {};
const drainRates = new DrainRates();
const encoder = new NodeStatusEncoder();
let handlers;
const stream = { watch: (_request, h) => ((handlers = h), queueMicrotask(() => h.onCreated()), { cancel: () => undefined }) };
const watch = new PrefixWatch(stream, {
  description: 'bench',
  prefix: DRAINS,
  what: 'drains',
  decode: drainFromKv,
  reads: {
    list: async () => ({ header: { revision: String(revision) }, kvs: initial, count: String(initial.length) }),
    changedSince: async () => ({ header: { revision: String(revision) }, kvs: [], count: String(initial.length) }),
    keysAt: async () => [],
  },
  unavailable: (_action, err) => err,
  onChange: ({ entries, changed }) => {
    for (const name of changed) {
      if (entries.has(name)) drains[name] ??= { state: 'RUNNING', sent: 0, dropped: { buffer_full: 0 }, buffered: 0 };
      else delete drains[name];
    }
  },
  onError: () => undefined,
  onRecovered: () => undefined,
});
await watch.start();
const busy = Object.keys(drains).sort().slice(0, Number(opts.busy));

/** The document the publisher writes (StatusPublisher.writeIfDue): drains part, live part, the whole. */
function statusDocument() {
  const part = encoder.drainsPart(drains);
  const live = { in: 0, in_per_s: 0, clients: [], keys: [], drains: drainRates.read(encoder.takeMoved(), (name) => drains[name]) };
  const text = withUpdated(encoder.document(part, live), Math.floor(Date.now() / 1000));
  encoder.written();
  return text.length;
}

const cpu = () => {
  const { user, system } = process.cpuUsage();
  return user + system;
};
const spent = { watch: 0, status: 0 };
function change(i) {
  for (const name of busy) drains[name].sent += 10;
  const name = `probe-${i}`;
  let t = cpu();
  handlers.onEvents({ events: [{ type: 'Put', kv: kv(name, 'tcp://10.0.0.2:9?filter=probe') }] });
  spent.watch += cpu() - t;
  t = cpu();
  statusDocument();
  spent.status += cpu() - t;
  t = cpu();
  const gone = kv(name, '');
  handlers.onEvents({ events: [{ type: 'Delete', kv: gone }] });
  spent.watch += cpu() - t;
}

// Warm up, then measure: each iteration is a drain added (one status write) and deleted (written with the next counters).
for (let i = 0; i < 500; i++) change(i);
spent.watch = spent.status = 0;
const t0 = cpu();
for (let i = 0; i < CHANGES / 2; i++) change(i);
const total = cpu() - t0;
const per = (us) => +(us / CHANGES).toFixed(1);
const result = { benchmark: 'node-drain-change', drains: DRAINS_COUNT, changes: CHANGES, cpu_us_per_change: { total: per(total), watch_and_apply: per(spent.watch), status_document: per(spent.status) } };
console.log(`one node of ${DRAINS_COUNT} drains, per drain added or deleted: ${result.cpu_us_per_change.total} µs CPU (watch delivery and apply ${result.cpu_us_per_change.watch_and_apply}, status document ${result.cpu_us_per_change.status_document})`);
console.log(JSON.stringify(result));
await watch.close();
