// Benchmark of issue 18, a core's memory: an idle core on the file store and on etcd, and one
// core with 1,000 drains (all RUNNING to one TCP target, none matching) on etcd, beside the floor
// (a bare `node` and `node` with zeromq loaded) measured the same way.
//
// Each core runs as deployed: the `logyard` executable (its shebang's node flags), a config file
// (so the YAML parser runs, as in a service), `logyard core`. It is measured after `--idle`
// seconds (default 30: V8 gives back what start-up allocated within about 10-20 s of an idle
// process). Per process, from /proc: VmRSS (what `ps`/`top` show: every page mapped, including
// the node binary's and libraries' code, shared by every Node.js process of the machine),
// RssAnon (its own memory: heaps and stacks), and Pss (shared pages divided by how many
// processes map them; depends on what else runs on the machine).
// Usage: npm run bench (runs every benchmark), or node scripts/bench/memory.mjs [--idle S] [--drains N]
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { getStatus, sink, sleep, startBenchEtcd } from './lib.mjs';
import { EtcdStore } from '@logyard/store/etcd';

const here = dirname(fileURLToPath(import.meta.url));
const bin = join(here, '../../packages/cli/bin/logyard.js');
const { values: opts } = parseArgs({ options: { idle: { type: 'string', default: '30' }, drains: { type: 'string', default: '1000' } } });
const IDLE_MS = Number(opts.idle) * 1000;
const MANY = Number(opts.drains);
const root = mkdtempSync(join(tmpdir(), 'logyard-bench-memory-'));
const children = [];

/** VmRSS, RssAnon, RssFile (/proc/PID/status) and Pss (/proc/PID/smaps_rollup), in MB. */
function memoryOf(pid) {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const rollup = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
  const kb = (text, field) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? NaN);
  const mb = (v) => +(v / 1024).toFixed(1);
  return { rss_mb: mb(kb(status, 'VmRSS')), anon_mb: mb(kb(status, 'RssAnon')), file_mb: mb(kb(status, 'RssFile')), pss_mb: mb(kb(rollup, 'Pss')) };
}

function exited(p) {
  return p.exitCode !== null || p.signalCode !== null ? Promise.resolve() : new Promise((r) => p.once('exit', r));
}

/** A plain node process that loads `code` and idles, measured after IDLE_MS. */
async function floor(what, code) {
  const p = spawn(process.execPath, ['--input-type=module', '-e', `${code}; setInterval(() => {}, 1 << 30);`], { cwd: join(here, '../../packages/bus'), stdio: 'ignore' });
  children.push(p);
  await sleep(IDLE_MS);
  const m = { what, ...memoryOf(p.pid) };
  p.kill('SIGKILL');
  await exited(p);
  return m;
}

/** `logyard core` on `store` with a config file, run through the executable (its shebang), up once its status socket exists. */
async function startCore(id, store) {
  const dir = join(root, id);
  const runDir = join(dir, 'run');
  mkdirSync(join(dir, 'state'), { recursive: true });
  const config = join(dir, 'logyard.yaml');
  writeFileSync(config, `node_id: ${id}\nstore: ${store}\nrun_dir: ${runDir}\nstate_dir: ${join(dir, 'state')}\nstatus: 'off'\n`);
  const p = spawn(bin, ['--config', config, 'core'], { env: { ...process.env, LOGYARD_CONFIG: '' }, stdio: 'ignore' });
  children.push(p);
  while (!existsSync(join(runDir, 'status.sock'))) {
    if (p.exitCode !== null) throw new Error(`core ${id} exited with ${p.exitCode}`);
    await sleep(20);
  }
  return { p, runDir };
}

async function idleCore(what, id, store) {
  const core = await startCore(id, store);
  await sleep(IDLE_MS);
  const m = { what, ...memoryOf(core.p.pid) };
  core.p.kill('SIGTERM');
  await exited(core.p);
  return m;
}

async function coreWithDrains(what, id, store) {
  const client = await EtcdStore.open(store);
  const target = await sink();
  for (let i = 0; i < MANY; i += 100) {
    await Promise.all(Array.from({ length: Math.min(100, MANY - i) }, (_, k) => client.putDrain(`many-${i + k}`, `tcp://127.0.0.1:${target.port}?filter=nothing.${i + k}`)));
  }
  const core = await startCore(id, store);
  for (;;) {
    const st = await getStatus(core.runDir).catch(() => null);
    if (st && st.drains.length >= MANY && st.drains.every((d) => d.state === 'RUNNING')) break;
    await sleep(200);
  }
  await sleep(IDLE_MS);
  const m = { what, ...memoryOf(core.p.pid) };
  core.p.kill('SIGTERM');
  await exited(core.p);
  await client.close();
  target.server.close();
  return m;
}

try {
  const etcd = await startBenchEtcd(root, children);
  // One at a time: a process's Pss depends on what else maps the same files.
  const rows = [
    await floor('node, bare (floor)', ''),
    await floor('node + zeromq (floor of a core)', "await import('zeromq')"),
    await idleCore('idle core, file store', 'file', `file://${join(root, 'store')}`),
    await idleCore('idle core, etcd', 'etcd', etcd),
    await coreWithDrains(`core, ${MANY} drains, etcd`, 'many', etcd),
  ];
  console.log(`\nmemory, ${IDLE_MS / 1000} s after start (MB; RSS = VmRSS, anon = RssAnon, file = RssFile, Pss from smaps_rollup)`);
  console.log(`${'PROCESS'.padEnd(34)}${'RSS'.padEnd(8)}${'ANON'.padEnd(8)}${'FILE'.padEnd(8)}PSS`);
  for (const r of rows) console.log(`${r.what.padEnd(34)}${String(r.rss_mb).padEnd(8)}${String(r.anon_mb).padEnd(8)}${String(r.file_mb).padEnd(8)}${r.pss_mb}`);
  const perDrain = ((rows[4].rss_mb - rows[3].rss_mb) * 1024) / MANY;
  console.log(`per drain: ${perDrain.toFixed(1)} KB RSS`);
  console.log(JSON.stringify({ benchmark: 'memory', idle_s: IDLE_MS / 1000, rows, per_drain_kb: +perDrain.toFixed(1) }));
} finally {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  await sleep(200);
  rmSync(root, { recursive: true, force: true });
}
