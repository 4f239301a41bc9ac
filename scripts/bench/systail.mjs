// Benchmark of issue 4: systail following a file appended at full speed -> core -> tcp drain.
// Prints lines/s (first append to last delivery) and lag (append to delivery, median and p99)
// as a table and one JSON line. Usage: node scripts/bench/systail.mjs [--lines N]
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { mkdtempSync, rmSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { getStatus, sleep } from './lib.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const bin = join(here, '../../packages/cli/bin/logyard.js');
const { values: opts } = parseArgs({ options: { lines: { type: 'string', default: '1000000' }, runs: { type: 'string', default: '1' } }, strict: false });
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

async function once() {
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
  const core = spawn(process.execPath, [bin, ...flags, 'core'], { env, stdio: ['ignore', 'ignore', 'inherit'] });
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
  const systail = spawn(process.execPath, [bin, ...flags, '-c', config, 'systail'], { env, stdio: ['ignore', 'ignore', 'pipe'] });
  systail.stderr.on('data', (d) => (systailLog += d));
  while (!/systail: started/.test(systailLog)) await sleep(20);

  const t0 = now();
  const writer = spawn(process.execPath, ['-e', WRITER, file, String(LINES)], { stdio: 'inherit' });
  await new Promise((r) => writer.on('close', r));
  const deadline = Date.now() + 120_000;
  while (count < LINES && Date.now() < deadline) await sleep(20);
  const seconds = (last - t0) / 1000;
  systail.kill('SIGTERM');
  core.kill('SIGTERM');
  await Promise.all([new Promise((r) => systail.on('close', r)), new Promise((r) => core.on('close', r))]);
  server.close();
  rmSync(root, { recursive: true, force: true });
  const sorted = Array.from(lags.subarray(0, Math.min(count, LINES))).sort((a, b) => a - b);
  const pct = (p) => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))];
  return { lines: LINES, delivered: count, lines_per_s: Math.round(count / seconds), lag_median_ms: +pct(0.5).toFixed(1), lag_p99_ms: +pct(0.99).toFixed(1) };
}

const results = [];
for (let r = 0; r < Number(opts.runs); r++) results.push(await once());
const med = (k) => results.map((x) => x[k]).sort((a, b) => a - b)[Math.floor(results.length / 2)];
const result = { bench: 'systail', lines: LINES, delivered: med('delivered'), lines_per_s: med('lines_per_s'), lag_median_ms: med('lag_median_ms'), lag_p99_ms: med('lag_p99_ms') };
console.log('systail -> core -> tcp drain (200-byte lines appended at full speed)');
console.log(`  lines        ${result.delivered} of ${LINES}`);
console.log(`  lines/s      ${result.lines_per_s}`);
console.log(`  lag median   ${result.lag_median_ms} ms`);
console.log(`  lag p99      ${result.lag_p99_ms} ms`);
console.log(JSON.stringify(result));
