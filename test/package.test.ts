import { afterAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { TcpTarget, TestNode, until } from './helpers/cli.js';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('..', import.meta.url));
const VERSION = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;

/** Issue 12: the tarball installs into an empty prefix and gives a working `logyard`; the unit verifies. */
describe('installing logyard from its tarball', () => {
  const prefix = mkdtempSync(join(tmpdir(), 'ly-prefix-'));
  const node = new TestNode('installed-node');
  const target = new TcpTarget();
  const env = { ...process.env, PATH: `${join(prefix, 'bin')}:/usr/bin:/bin`, LOGYARD_CONFIG: '' };

  afterAll(async () => {
    await node.cleanup();
    await target.close();
    rmSync(prefix, { recursive: true, force: true });
  });

  it('npm run pack makes logyard-<version>.tgz; npm install -g of it (no registry) gives logyard --version, start, drain and publish', async () => {
    const tarball = join(ROOT, `logyard-${VERSION}.tgz`);
    rmSync(tarball, { force: true });
    await run('npm', ['run', 'pack', '--silent'], { cwd: ROOT, maxBuffer: 16 << 20 });
    expect(existsSync(tarball)).toBe(true);
    // --offline: everything it needs is in the tarball.
    await run('npm', ['install', '-g', '--prefix', prefix, '--offline', '--no-audit', '--no-fund', '--loglevel=error', tarball], { maxBuffer: 16 << 20 });

    const logyard = join(prefix, 'bin', 'logyard');
    const { stdout: version } = await run('logyard', ['--version'], { env });
    expect(version).toBe(`${VERSION}\n`);

    const flags = node.flags;
    const core = execFile(logyard, [...flags, 'start'], { env });
    let coreLog = '';
    core.stderr!.on('data', (c: string) => (coreLog += c));
    try {
      await until(() => /listening in/.test(coreLog), 'the installed core to listen', 30_000);
      await target.listen();
      await run('logyard', [...flags, 'drain', 'add', 'out', `tcp://127.0.0.1:${target.port}`, '-f', 'installed'], { env });
      await run('logyard', [...flags, 'publish', 'installed.test', 'hello from the tarball'], { env });
      await until(() => target.events.some((e) => e.text === 'hello from the tarball'), 'the event at the target');
      const { stdout: status } = await run('logyard', [...flags, 'status'], { env });
      expect(status).toMatch(new RegExp(`^core      running, node installed-node, pid ${core.pid}, version ${VERSION.replace(/\./g, '\\.')}, `));
    } finally {
      core.kill('SIGTERM');
    }
  }, 300_000);

  it('systemd-analyze verify accepts deploy/systemd/logyard.service', async () => {
    const { stdout, stderr } = await run('systemd-analyze', ['verify', join(ROOT, 'deploy/systemd/logyard.service')]);
    expect(stdout + stderr).toBe('');
  });
});
