// Benchmark of issue 4: systail following a file appended at full speed -> core -> tcp drain.
// Prints lines/s (first append to last delivery), lag (append to delivery, median and p99) and the
// CPU seconds per million lines of systail and of the core, as a table and one JSON line.
// Usage: node scripts/bench/systail.mjs [--lines N] [--runs R] [--base CHECKOUT]
//   --base CHECKOUT  each run is made with another built checkout's systail and core too, right
//                    before this build's (build `base`)
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { mkdtempSync, rmSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { cpuSeconds, getStatus, shebangFlags, sleep } from './lib.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const bin = join(here, '../../packages/cli/bin/logyard.js');
const { values: opts } = parseArgs({ options: { lines: { type: 'string', default: '1000000' }, runs: { type: 'string', default: '1' }, base: { type: 'string' } }, strict: false });
/** The builds measured: this checkout, and with --base another one. */
const builds = [...(opts.base ? [{ name: 'base', bin: join(resolve(opts.base), 'packages/cli/bin/logyard.js') }] : []), { name: 'this', bin }];
const LINES = Number(opts.lines);
const now = () => performance.timeOrigin + performance.now();


function run(args) {
  return new Promise((resolve, reject) => {
    const c = spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'inherit'] });
    c.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`${args.join(' ')} exited ${code}`))));
  });
}

// The writer: a separate process appending lines "<ms since epoch> <seq> <padding>" in chunks.
const WRITER = `
const fs = require('node:fs');
const [file, total] = [process.argv[1], Number(process.argv[2])];
const fd = fs.openSync(file, 'a');
const pad = 'x'.repeat(150);
let seq = 0;
while (seq < total) {
  const t = (performance.timeOrigin + performance.now()).toFixed(3);
  let chunk = '';
  for (let i = 0; i < 500 && seq < total; i++) chunk += t + ' ' + (seq++) + ' ' + pad + '\\n';
  fs.writeSync(fd, chunk);
}
fs.closeSync(fd);
`;

async function once(build) {
  const bin = build.bin;
  const root = mkdtempSync(join(tmpdir(), 'ly-bench-systail-'));
  const runDir = join(root, 'run');
  const flags = ['--run-dir', runDir, '--state-dir', join(root, 'state'), '--node-id', 'bench', '--status', 'off'];
  mkdirSync(join(root, 'logs'));
  const file = join(root, 'logs', 'bench.log');
  writeFileSync(file, '');
  const config = join(root, 'logyard.yaml');
  writeFileSync(config, `systail:\n  files:\n    bench: ${file}\n`);

  const lags = new Float64Array(LINES);
  let count = 0;
  let last = 0;
  let rest = '';
  const server = createServer((sock) => {
    sock.setEncoding('utf8');
    sock.on('data', (chunk) => {
      const t = now();
      const s = rest + chunk;
      let pos = 0;
      for (let nl = s.indexOf('\n'); nl >= 0; nl = s.indexOf('\n', pos)) {
        if (count < LINES) lags[count] = t - parseFloat(s.slice(pos, pos + 20));
        count++;
        pos = nl + 1;
      }
      rest = s.slice(pos);
      last = t;
    });
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const port = server.address().port;

  const env = { ...process.env, LOGYARD_CONFIG: '' };
  // With the executable's V8 flags (its shebang's), as a user's `logyard` runs.
  const core = spawn(process.execPath, [...shebangFlags(bin), bin, ...flags, 'core'], { env, stdio: ['ignore', 'ignore', 'inherit'] });
  for (let i = 0; i < 200; i++) {
    if (await getStatus(runDir).then(() => true, () => false)) break;
    await sleep(50);
  }
  await run([bin, ...flags, 'drain', 'add', 'bench', `tcp://127.0.0.1:${port}?filter=systail.bench&format={{text}}`]);
  for (let i = 0; i < 200; i++) {
    const s = await getStatus(runDir);
    if (s.drains.find((d) => d.name === 'bench')?.state === 'RUNNING') break;
    await sleep(50);
  }
  let systailLog = '';
  const systail = spawn(process.execPath, [...shebangFlags(bin), bin, ...flags, '-c', config, 'systail'], { env, stdio: ['ignore', 'ignore', 'pipe'] });
  systail.stderr.on('data', (d) => (systailLog += d));
  while (!/systail: started/.test(systailLog)) await sleep(20);

  const cpu0 = { systail: cpuSeconds(systail.pid), core: cpuSeconds(core.pid) };
  const t0 = now();
  const writer = spawn(process.execPath, ['-e', WRITER, file, String(LINES)], { stdio: 'inherit' });
  await new Promise((r) => writer.on('close', r));
  // Every line either arrives or is counted as dropped by the drain (its buffer full while the
  // sink, on a loaded machine, took too little).
  const deadline = Date.now() + 120_000;
  let dropped = 0;
  for (;;) {
    const d = (await getStatus(runDir)).drains.find((x) => x.name === 'bench');
    dropped = Object.values(d?.dropped ?? {}).reduce((a, b) => a + b, 0);
    if (count + dropped >= LINES || Date.now() > deadline) break;
    await sleep(20);
  }
  const seconds = (last - t0) / 1000;
  const perMillion = (pid, at0) => +((cpuSeconds(pid) - at0) / (count / 1e6)).toFixed(3);
  const cpu = { systail: perMillion(systail.pid, cpu0.systail), core: perMillion(core.pid, cpu0.core) };
  systail.kill('SIGTERM');
  core.kill('SIGTERM');
  await Promise.all([new Promise((r) => systail.on('close', r)), new Promise((r) => core.on('close', r))]);
  server.close();
  rmSync(root, { recursive: true, force: true });
  const sorted = Array.from(lags.subarray(0, Math.min(count, LINES))).sort((a, b) => a - b);
  const pct = (p) => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))];
  return { lines: LINES, delivered: count, lines_per_s: Math.round(count / seconds), lag_median_ms: +pct(0.5).toFixed(1), lag_p99_ms: +pct(0.99).toFixed(1), dropped, systail_cpu_s_per_million: cpu.systail, core_cpu_s_per_million: cpu.core };
}

const runsOf = new Map(builds.map((b) => [b.name, []]));
// The builds take turns, so that a change in the machine's load falls on both alike.
for (let r = 0; r < Number(opts.runs); r++) for (const build of builds) runsOf.get(build.name).push(await once(build));
const rows = [];
for (const [build, results] of runsOf) {
  const med = (k) => results.map((x) => x[k]).sort((a, b) => a - b)[Math.floor(results.length / 2)];
  rows.push({
    ...(opts.base ? { build } : {}),
    lines: LINES,
    delivered: med('delivered'),
    lines_per_s: med('lines_per_s'),
    lag_median_ms: med('lag_median_ms'),
    lag_p99_ms: med('lag_p99_ms'),
    dropped: results.reduce((a, r) => a + r.dropped, 0),
    systail_cpu_s_per_million: med('systail_cpu_s_per_million'),
    core_cpu_s_per_million: med('core_cpu_s_per_million'),
  });
}
console.log('systail -> core -> tcp drain (200-byte lines appended at full speed; median of runs)');
console.table(rows);
console.log(JSON.stringify({ bench: 'systail', results: rows }));
