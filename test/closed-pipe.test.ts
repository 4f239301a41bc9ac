import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { LOGYARD_BIN, TestNode, until } from './helpers/cli.js';

/**
 * A reader that goes away (docs/cli.md, exit codes): a command whose output pipe closes ends
 * quietly, and a core whose log pipe closes runs on. Real pipes, closed early by real processes.
 */
function sh(script: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', ['-c', script], { env: { ...process.env, LOGYARD_CONFIG: '' } });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
    child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('closed pipes', () => {
  const node = new TestNode('node-pipe');
  const cmd = `"${process.execPath}" "${LOGYARD_BIN}" ${node.flags.map((f) => `'${f}'`).join(' ')}`;

  beforeAll(async () => {
    await node.startCore();
    expect((await node.cli(['drain', 'add', 'x', 'tcp://127.0.0.1:1'])).code).toBe(0);
  });
  afterAll(() => node.cleanup());

  const commands = ['--help', '--version', 'drain --help', 'format list', 'drain list --json', 'drain status --json', 'status --json', 'config check', 'completion bash'];
  for (const command of commands) {
    it(`logyard ${command} | true: no stack trace, exit 0`, async () => {
      // `true` exits without reading: every write meets a closed pipe (EPIPE).
      const r = await sh(`set -o pipefail; ${cmd} ${command} | true`);
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
    });
  }

  it('a command that fails keeps its exit code when its stderr is a closed pipe', async () => {
    const r = await sh(`set -o pipefail; ${cmd} drain delete nope 2>&1 >/dev/null | true`);
    expect(r.code).toBe(1);
  });

  it('a core whose log reader went away (`logyard core 2>&1 | head -1`) runs on', async () => {
    const other = new TestNode('node-pipe-2');
    const core = spawn(process.execPath, [LOGYARD_BIN, ...other.flags, 'core'], { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, LOGYARD_CONFIG: '' } });
    try {
      let firstLine = '';
      core.stderr.setEncoding('utf8').on('data', (c: string) => (firstLine += c));
      await until(() => firstLine.includes('listening'), 'the first log line');
      // As head -1 does: read one line, then close the pipe. Each log line from now on meets EPIPE.
      core.stderr.destroy();
      for (let i = 0; i < 3; i++) expect((await other.cli(['drain', 'add', `d${i}`, 'tcp://127.0.0.1:1'])).code).toBe(0);
      await until(async () => (await other.status()).drains.filter((d: { state: string }) => d.state === 'RETRYING').length === 3, 'three drains logging their retries');
      await new Promise((r) => setTimeout(r, 1000));
      expect(core.exitCode).toBeNull();
      // Counted from here: each drain add published its audit event to this core too.
      const before = (await other.status()).events.in;
      const r = await other.cli(['publish', 'a.b', 'still here']);
      expect(r.code).toBe(0);
      expect((await other.status()).events.in - before).toBe(1);
    } finally {
      core.kill('SIGKILL');
      await other.cleanup();
    }
  });
});
