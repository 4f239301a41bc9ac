import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync, spawn } from 'node:child_process';
import { chmodSync, chownSync, lstatSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { LOGYARD_BIN, TestNode, until, type CliResult } from './helpers/cli.js';

/**
 * run_dir ownership (docs/operations.md, run_dir), with a real second user: `nobody` makes directories and
 * sockets, and runs the real `logyard` against root's run_dir. The tests run as root (they need
 * to act as another user); under another user they check that user against root's files.
 */
const OTHER_UID = 65534; // nobody
const me = process.getuid!();
const other = me === OTHER_UID ? 0 : OTHER_UID;

/** Runs a command as the other user (only root can; the suite runs as root in CI). */
function asOther(file: string, args: string[]): CliResult {
  try {
    const stdout = execFileSync(file, args, { uid: other, gid: other, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], env: { PATH: process.env.PATH, HOME: '/' } });
    return { code: 0, stdout, stderr: '' };
  } catch (err) {
    const e = err as { status: number | null; stdout: string; stderr: string };
    return { code: e.status, stdout: e.stdout, stderr: e.stderr };
  }
}

const NO_STACK = /\n\s+at /;

describe.runIf(me === 0)('run_dir belongs to its user alone', () => {
  const node = new TestNode('node-rundir');
  /** Sticky and world-writable like /tmp, so that the other user can make a directory first. */
  let shared: string;

  beforeAll(() => {
    chmodSync(node.root, 0o755);
    shared = join(node.root, 'tmp');
    mkdirSync(shared);
    chmodSync(shared, 0o1777);
  });
  afterAll(() => node.cleanup());

  /** The run_dir another user created before us, as /tmp/logyard-0 after a reboot. */
  function madeByOther(name: string): string {
    const dir = join(shared, name);
    expect(asOther('mkdir', ['-m', '700', dir]).code).toBe(0);
    expect(lstatSync(dir).uid).toBe(other);
    return dir;
  }

  const refusals: Array<[string, string[]]> = [
    ['core', ['core']],
    ['start', ['start']],
    ['publish', ['publish', 'a.b', 'x']],
    ['status', ['status']],
    ['events', ['events']],
    ['systail', ['systail']],
  ];

  for (const [what, args] of refusals) {
    it(`logyard ${what} refuses a run_dir another user made first, naming it`, async () => {
      const dir = madeByOther(`taken-${what}`);
      const r = await node.cli(['--run-dir', dir, ...args]);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain(`logyard: run_dir ${dir} belongs to uid ${other}, not to you (uid ${me}): refused`);
      expect(r.stderr).not.toMatch(NO_STACK);
      // Nothing of ours went in.
      expect(asOther('ls', ['-A', dir]).stdout).toBe('');
    });
  }

  it('refuses a run_dir of ours that group or others can write', async () => {
    const dir = join(shared, 'group-writable');
    mkdirSync(dir);
    chmodSync(dir, 0o770);
    for (const args of [['core'], ['publish', 'a.b', 'x']]) {
      const r = await node.cli(['--run-dir', dir, ...args]);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain(`logyard: run_dir ${dir} is writable by group or others (mode 0770): refused; chmod 700 ${dir}`);
    }
  });

  it("refuses a socket in run_dir that another user made (publish.sock swapped in)", async () => {
    const dir = join(shared, 'swapped');
    mkdirSync(dir, { mode: 0o700 });
    const socket = join(dir, 'publish.sock');
    execFileSync('python3', ['-c', `import socket; socket.socket(socket.AF_UNIX).bind(${JSON.stringify(socket)})`]);
    chownSync(socket, other, other);
    const r = await node.cli(['--run-dir', dir, 'publish', 'a.b', 'x']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`logyard: socket ${socket} belongs to uid ${other}, not to you (uid ${me}): refused`);
  });

  it('creates a missing run_dir with mode 0700 and makes its sockets 0600 whatever the umask', async () => {
    const dir = join(shared, 'fresh');
    // A umask that would leave the sockets group-writable, which the clients refuse.
    const core = spawn('sh', ['-c', `umask 002; exec "${process.execPath}" "${LOGYARD_BIN}" --status off --state-dir "${node.stateDir}" --run-dir "${dir}" core`], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let log = '';
    core.stderr.setEncoding('utf8').on('data', (c: string) => (log += c));
    try {
      await until(() => log.includes('listening'), 'the core to listen');
      expect(lstatSync(dir).mode & 0o777).toBe(0o700);
      for (const s of ['publish.sock', 'subscribe.sock', 'status.sock']) expect(lstatSync(join(dir, s)).mode & 0o777).toBe(0o600);
      const r = await node.cli(['--run-dir', dir, 'publish', 'a.b', 'x']);
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);

      // Another user who may not use our run_dir is told so, not "no core running".
      const status = asOther(process.execPath, [LOGYARD_BIN, '--status', 'off', '--run-dir', dir, 'status']);
      expect(status.code).toBe(1);
      expect(status.stderr).toBe(`logyard: run_dir ${dir} belongs to uid ${me}, not to you (uid ${other}): refused, as another user could have made it to take your events; use a run_dir of your own (--run-dir)\n`);
      const inside = join(dir, 'sub');
      const publish = asOther(process.execPath, [LOGYARD_BIN, '--status', 'off', '--run-dir', inside, 'publish', 'a.b', 'x']);
      expect(publish.code).toBe(1);
      expect(publish.stderr).toBe(`logyard: cannot create run_dir ${inside}: permission denied (it belongs to another user, or a directory above it does)\n`);
      const statusInside = asOther(process.execPath, [LOGYARD_BIN, '--status', 'off', '--run-dir', inside, 'status']);
      expect(statusInside.code).toBe(1);
      expect(statusInside.stderr).toBe(`logyard: cannot use run_dir ${inside}: permission denied (it belongs to another user, or a directory above it does)\n`);
    } finally {
      core.kill('SIGKILL');
    }
  });

  it('refuses a run_dir that is not a directory', async () => {
    const file = join(shared, 'a-file');
    writeFileSync(file, '');
    const r = await node.cli(['--run-dir', file, 'publish', 'a.b', 'x']);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(`logyard: run_dir ${file} is not a directory\n`);
  });
});
