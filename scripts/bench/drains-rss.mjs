// One core with N drains in a file store (all RUNNING to one TCP target, none matching): its RSS 8 s
// after all are RUNNING (VmRSS, and VmHWM as the peak). Usage: node scripts/bench/drains-rss.mjs [--drains N]
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { mkdtempSync, mkdirSync, writeFileSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { getStatus, sleep } from './lib.mjs';
const { values: opts } = parseArgs({ options: { drains: { type: 'string', default: '1000' } } });
const N = Number(opts.drains);
const bin = join(dirname(fileURLToPath(import.meta.url)), '../../packages/cli/bin/logyard.js');
const root = mkdtempSync(join(tmpdir(), 'ly-many-'));
const runDir = join(root, 'run'); const stateDir = join(root, 'state');
const server = createServer((s) => { s.resume(); s.on('error', () => {}); });
await new Promise((r) => server.listen(0, '127.0.0.1', r));
const port = server.address().port;
mkdirSync(join(stateDir, 'store', 'drains'), { recursive: true });
for (let i = 0; i < N; i++) writeFileSync(join(stateDir, 'store', 'drains', `many-${i}.json`), JSON.stringify({ uri: `tcp://127.0.0.1:${port}?filter=nothing.${i}`, created: 1 }));
const core = spawn(bin, ['--run-dir', runDir, '--state-dir', stateDir, '--node-id', 'many', '--status', 'off', 'core'], { stdio: ['ignore', 'ignore', 'ignore'] });
for (let i = 0; ; i++) {
  try { const st = await getStatus(runDir); if (st.drains.length >= N && st.drains.every((d) => d.state === 'RUNNING')) break; } catch {}
  if (i > 2000) throw new Error('not all RUNNING');
  await sleep(50);
}
await sleep(8000);
const status = readFileSync(`/proc/${core.pid}/status`, 'utf8');
const kb = (k) => Number(status.match(new RegExp(`${k}:\\s+(\\d+) kB`))[1]);
const st = await getStatus(runDir);
console.log(JSON.stringify({ benchmark: 'drains-rss', drains: N, rss_mb: +(kb('VmRSS') / 1024).toFixed(1), peak_rss_mb: +(kb('VmHWM') / 1024).toFixed(1), heap_used_mb: st.memory.heap_used_mb }));
core.kill('SIGTERM'); await new Promise((r) => core.on('exit', r)); server.close(); rmSync(root, { recursive: true, force: true });
