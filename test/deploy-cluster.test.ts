import { afterAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { appendFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { runCli, until } from './helpers/cli.js';

const run = promisify(execFile);
const SCRIPT = fileURLToPath(new URL('../deploy/cluster/cluster.sh', import.meta.url));

/** Whether nothing listens on 127.0.0.1:port now. */
function isFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

/** A base port whose three client ports and three peer ports (base+10..) are free. */
async function freeBase(): Promise<number> {
  for (;;) {
    const base = 30_000 + Math.floor(Math.random() * 20_000);
    const ports = [0, 1, 2, 10, 11, 12].map((d) => base + d);
    if ((await Promise.all(ports.map(isFree))).every(Boolean)) return base;
  }
}

/** Issue 12: deploy/ holds a three-node cluster on a three-member etcd that starts on one machine. */
describe('deploy/cluster/cluster.sh', () => {
  const dir = join(mkdtempSync(join(tmpdir(), 'ly-deploy-')), 'cluster');
  let env: NodeJS.ProcessEnv = {};

  afterAll(async () => {
    await run(SCRIPT, ['stop'], { env }).catch(() => undefined);
    rmSync(join(dir, '..'), { recursive: true, force: true });
  });

  it('starts three etcd members and three nodes; a drain added on one node runs on all three', async () => {
    const base = await freeBase();
    env = { ...process.env, LOGYARD_CLUSTER_DIR: dir, ETCD_PORT: String(base), LOGYARD_CONFIG: '' };
    const { stdout } = await run(SCRIPT, ['start'], { env, timeout: 60_000 });
    expect(stdout).toContain(`cluster in ${dir}, store etcd://127.0.0.1:${base},127.0.0.1:${base + 1},127.0.0.1:${base + 2}`);
    for (const i of [1, 2, 3]) expect(stdout).toMatch(new RegExp(`node-${i} {4}pid \\d+`));

    const store = `etcd://127.0.0.1:${base},127.0.0.1:${base + 1},127.0.0.1:${base + 2}`;
    const flags = (i: number): string[] => ['-c', join(dir, `node-${i}`, 'logyard.yaml'), '--store', store, '--run-dir', join(dir, `node-${i}`, 'run')];
    const added = await runCli([...flags(1), 'drain', 'add', 'demo', `file://${join(dir, 'files', 'demo.out')}`, '-f', 'systail.demo', '--format', 'short']);
    expect(added.code).toBe(0);
    await until(async () => {
      const s = await runCli([...flags(2), 'drain', 'status', 'demo', '--json']);
      return (JSON.parse(s.stdout) as Array<{ state: string }>).filter((r) => r.state === 'RUNNING').length === 3;
    }, 'demo RUNNING on the three nodes', 20_000);
    for (const i of [1, 2, 3]) appendFileSync(join(dir, `node-${i}`, 'demo.log'), `hello from node-${i}\n`);
    await until(() => {
      const out = readFileSync(join(dir, 'files', 'demo.out'), 'utf8');
      return [1, 2, 3].every((i) => out.includes(`node-${i} demo: hello from node-${i}\n`));
    }, 'a line of each node in the shared file', 20_000);

    const stopped = await run(SCRIPT, ['stop'], { env, timeout: 60_000 });
    expect(stopped.stdout).toBe('cluster: stopped\n');
  }, 120_000);
});
