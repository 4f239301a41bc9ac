// Benchmark of issue 15: the journal client.
// An existing journal of N entries (~200-byte messages from 20 units, written by
// systemd-journal-remote) is read from its start (LOGYARD_JOURNAL_FROM_START=1) by
// `logyard journal` -> core -> tcp drain -> sink: entries/s from the client's start to the last
// line delivered, and CPU seconds per million entries of the client, of its journalctl and of the
// core; then `journalctl -o json` alone on the same journal, to tell how much is journalctl itself.
// Prints a table and one JSON line.
// Usage: node scripts/bench/journal.mjs [--entries N] [--runs R] [--profile DIR]
// Needs journalctl and systemd-journal-remote (scripts/test-setup.sh installs them).
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { getStatus, now, shebangEnv, shebangFlags, sink, waitFor } from './lib.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const bin = join(here, '../../packages/cli/bin/logyard.js');
const { values: opts } = parseArgs({
  options: {
    entries: { type: 'string', default: '200000' },
    runs: { type: 'string', default: '1' },
    // Writes a V8 CPU profile of each `logyard journal` process into this directory.
    profile: { type: 'string' },
  },
  strict: false,
});
const ENTRIES = Number(opts.entries);
const RUNS = Number(opts.runs);
const env = { ...process.env, LOGYARD_CONFIG: '' };
const JOURNAL_REMOTE = ['/lib/systemd/systemd-journal-remote', '/usr/lib/systemd/systemd-journal-remote'].find((p) => existsSync(p));
const TICKS = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());

/** CPU seconds (user + system) a live process has used so far. */
function cpuSeconds(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / TICKS;
}

/** The journal: ENTRIES entries in Journal Export Format through systemd-journal-remote. */
async function writeJournal(dir) {
  const child = spawn(JOURNAL_REMOTE, [`--output=${join(dir, 'bench.journal')}`, '-'], { stdio: ['pipe', 'ignore', 'ignore'] });
  const closed = new Promise((r) => child.on('close', r));
  const pad = 'x'.repeat(150);
  const t = Date.now() * 1000;
  let chunk = '';
  for (let i = 0; i < ENTRIES; i++) {
    const unit = `web-${i % 20}`;
    chunk +=
      `__REALTIME_TIMESTAMP=${t + i}\n__MONOTONIC_TIMESTAMP=${i + 1}\n_BOOT_ID=0123456789abcdef0123456789abcdef\n` +
      `MESSAGE=request ${i} ${pad}\nPRIORITY=6\nSYSLOG_IDENTIFIER=${unit}\n_SYSTEMD_UNIT=${unit}.service\n_PID=${1000 + (i % 20)}\n_COMM=${unit}\n\n`;
    if (chunk.length > 1 << 20) {
      if (!child.stdin.write(chunk)) await new Promise((r) => child.stdin.once('drain', r));
      chunk = '';
    }
  }
  child.stdin.end(chunk);
  if ((await closed) !== 0) throw new Error('systemd-journal-remote failed');
}

async function once(journalDir) {
  const root = mkdtempSync(join(tmpdir(), 'ly-bench-journal-'));
  const runDir = join(root, 'run');
  const flags = ['--run-dir', runDir, '--state-dir', join(root, 'state'), '--node-id', 'bench', '--status', 'off'];
  const config = join(root, 'logyard.yaml');
  // The limit is not what is measured here: high enough never to cut.
  writeFileSync(config, `journal:\n  directory: ${journalDir}\n  rate: 1000000000\n  burst: 1000000000\n`);
  const out = await sink();
  const core = spawn(process.execPath, [...shebangFlags(bin), bin, ...flags, 'core'], { env: shebangEnv(bin, env), stdio: ['ignore', 'ignore', 'inherit'] });
  await waitFor(() => getStatus(runDir).then(() => true, () => false), 'the core');
  const add = spawnSync(process.execPath, [bin, ...flags, 'drain', 'add', 'bench', `tcp://127.0.0.1:${out.port}?filter=journal&format={{text}}`], { env, encoding: 'utf8' });
  if (add.status !== 0) throw new Error(add.stderr);
  await waitFor(async () => (await getStatus(runDir)).drains.find((d) => d.name === 'bench')?.state === 'RUNNING', 'the drain');
  const coreCpu0 = cpuSeconds(core.pid);

  const t0 = now();
  let log = '';
  const profile = opts.profile ? ['--cpu-prof', '--cpu-prof-dir', opts.profile] : [];
  const client = spawn(process.execPath, [...shebangFlags(bin), ...profile, bin, ...flags, '-c', config, 'journal'], { env: shebangEnv(bin, { ...env, LOGYARD_JOURNAL_FROM_START: '1' }), stdio: ['ignore', 'ignore', 'pipe'] });
  client.stderr.on('data', (d) => (log += d));
  await waitFor(() => out.count >= ENTRIES || client.exitCode !== null, 'every entry at the sink', 600_000);
  if (client.exitCode !== null) throw new Error(log);
  const seconds = (out.last - t0) / 1000;
  const journalctlPid = Number(execFileSync('pgrep', ['-P', String(client.pid), '-x', 'journalctl'], { encoding: 'utf8' }).trim());
  const cpu = { client: cpuSeconds(client.pid), journalctl: cpuSeconds(journalctlPid), core: cpuSeconds(core.pid) - coreCpu0 };
  client.kill('SIGTERM');
  await new Promise((r) => client.on('close', r));
  core.kill('SIGTERM');
  await new Promise((r) => core.on('close', r));
  out.server.close();
  rmSync(root, { recursive: true, force: true });
  const perMillion = (s) => +((s * 1e6) / ENTRIES).toFixed(2);
  return {
    delivered: out.count,
    entries_per_s: Math.round(out.count / seconds),
    client_cpu_s_per_million: perMillion(cpu.client),
    journalctl_cpu_s_per_million: perMillion(cpu.journalctl),
    core_cpu_s_per_million: perMillion(cpu.core),
  };
}

/** journalctl alone: the same journal read as JSON into /dev/null. */
function journalctlAlone(journalDir) {
  const t0 = now();
  const r = spawnSync('sh', ['-c', `journalctl --directory='${journalDir}' --merge --output=json --all --no-pager > /dev/null`]);
  if (r.status !== 0) throw new Error('journalctl failed');
  const seconds = (now() - t0) / 1000;
  return { entries_per_s: Math.round(ENTRIES / seconds), seconds: +seconds.toFixed(2) };
}

const journalRoot = mkdtempSync(join(tmpdir(), 'ly-bench-journal-data-'));
const journalDir = join(journalRoot, 'journal');
mkdirSync(journalDir);
try {
  const tw = now();
  await writeJournal(journalDir);
  const writeSeconds = (now() - tw) / 1000;
  const results = [];
  for (let r = 0; r < RUNS; r++) results.push(await once(journalDir));
  const med = (k) => results.map((x) => x[k]).sort((a, b) => a - b)[Math.floor(results.length / 2)];
  const alone = journalctlAlone(journalDir);
  const result = {
    bench: 'journal',
    entries: ENTRIES,
    delivered: med('delivered'),
    entries_per_s: med('entries_per_s'),
    client_cpu_s_per_million: med('client_cpu_s_per_million'),
    journalctl_cpu_s_per_million: med('journalctl_cpu_s_per_million'),
    core_cpu_s_per_million: med('core_cpu_s_per_million'),
    journalctl_alone_entries_per_s: alone.entries_per_s,
    journal_written_in_s: +writeSeconds.toFixed(1),
  };
  console.log(`journal (${ENTRIES} entries read from the start) -> core -> tcp drain`);
  console.log(`  delivered                 ${result.delivered} of ${ENTRIES}`);
  console.log(`  entries/s                 ${result.entries_per_s}`);
  console.log(`  CPU s per million         logyard journal ${result.client_cpu_s_per_million}, its journalctl ${result.journalctl_cpu_s_per_million}, core ${result.core_cpu_s_per_million}`);
  console.log(`  journalctl -o json alone  ${result.journalctl_alone_entries_per_s} entries/s`);
  console.log(JSON.stringify(result));
} finally {
  rmSync(journalRoot, { recursive: true, force: true });
}
