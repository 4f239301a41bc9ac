import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile, spawn } from 'node:child_process';
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Publisher } from '@logyard/bus';
import { LOGYARD_BIN, TestNode, until } from './helpers/cli.js';

const run = promisify(execFile);

/** Issue 12: did you mean, shell completion, and no error when the reader of the output goes away. */
describe('the command line for people', () => {
  const node = new TestNode('usability');
  const bin = join(node.root, 'bin');

  beforeAll(async () => {
    await node.startCore();
    for (const name of ['mylogs', 'errors', 'archive']) expect((await node.cli(['drain', 'add', name, 'tcp://127.0.0.1:9'])).code).toBe(0);
    expect((await node.cli(['format', 'add', 'short', '{{text}}'])).code).toBe(0);
    expect((await node.cli(['tenant', 'add', 'acme', '--prefix', 'apptail.app1'])).code).toBe(0);
    // `logyard` on the PATH, as an installed one is, for the completion function to call.
    await run('mkdir', ['-p', bin]);
    writeFileSync(join(bin, 'logyard'), `#!/bin/sh\nexec "${process.execPath}" "${LOGYARD_BIN}" "$@"\n`);
    chmodSync(join(bin, 'logyard'), 0o755);
  });

  afterAll(async () => {
    await node.cleanup();
  });

  it('says "did you mean" for a drain or format name that is close to one that exists', async () => {
    const deleted = await node.cli(['drain', 'delete', 'mylog']);
    expect(deleted.code).toBe(1);
    expect(deleted.stderr).toBe('logyard: no drain named mylog; did you mean mylogs?\n');
    const status = await node.cli(['drain', 'status', 'eror', 'nothing-like-it']);
    expect(status.code).toBe(1);
    expect(status.stderr).toBe('logyard: no drain named eror (did you mean errors?), nothing-like-it\n');
    const recent = await node.cli(['recent', 'archiv']);
    expect(recent.stderr).toBe('logyard: no drain named archiv; did you mean archive?\n');
    const format = await node.cli(['format', 'delete', 'shrot']);
    expect(format.code).toBe(1);
    expect(format.stderr).toBe('logyard: no format named shrot in the store; did you mean short?\n');
    const far = await node.cli(['drain', 'delete', 'zzzzzz']);
    expect(far.stderr).toBe('logyard: no drain named zzzzzz\n');
    const added = await node.cli(['drain', 'add', 'x', 'tcp://127.0.0.1:9', '--format', 'shrt']);
    expect(added.code).toBe(2);
    expect(added.stderr).toMatch(/unknown format "shrt" \(did you mean short\?\)/);
  });

  it('tail prints "did you mean" on stderr for a prefix that matches no key but is close to one, and keeps running', async () => {
    const pub = new Publisher({ runDir: node.runDir, nodeId: node.nodeId });
    const ticker = setInterval(() => pub.publish('systail.nginx.usability', 'a line'), 50);
    const tail = spawn(process.execPath, [LOGYARD_BIN, ...node.flags, 'tail', 'systail.ngnix'], { env: { ...process.env, LOGYARD_CONFIG: '' } });
    let stderr = '';
    tail.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    try {
      await until(() => stderr.includes('did you mean'), 'the hint', 15_000);
      expect(stderr).toContain('logyard: no key seen yet starts with systail.ngnix; did you mean systail.nginx? (still waiting for it)\n');
      await new Promise((r) => setTimeout(r, 300));
      expect(tail.exitCode).toBeNull();
      const exited = new Promise<number | null>((r) => tail.once('exit', (code) => r(code)));
      tail.kill('SIGINT');
      expect(await exited).toBe(0);
    } finally {
      clearInterval(ticker);
      await pub.close();
      tail.kill('SIGKILL');
    }
  });

  it('logyard completion bash|zsh: bash -n and zsh -n accept them, and they complete commands, options, drain and format names', async () => {
    const { stdout: script } = await run(process.execPath, [LOGYARD_BIN, 'completion', 'bash']);
    const file = join(node.root, 'logyard.bash');
    writeFileSync(file, script);
    await run('bash', ['-n', file]);
    const driver = [
      `source ${file}`,
      'complete_words() { COMP_WORDS=("$@"); COMP_CWORD=$((${#COMP_WORDS[@]} - 1)); COMPREPLY=(); _logyard; echo "${COMPREPLY[*]}"; }',
      'complete_words logyard dr',
      'complete_words logyard drain ""',
      `complete_words logyard --run-dir ${node.runDir} --state-dir ${node.stateDir} drain delete my`,
      `complete_words logyard --state-dir ${node.stateDir} drain add x tcp://h:1 --format sh`,
      `complete_words logyard --state-dir ${node.stateDir} format delete ""`,
      'complete_words logyard tail --no',
      'complete_words logyard --st',
      'complete_words logyard completion ""',
      `complete_words logyard --state-dir ${node.stateDir} tenant delete a`,
    ].join('\n');
    const { stdout } = await run('bash', ['-c', driver], { env: { ...process.env, PATH: `${bin}:${process.env.PATH}`, LOGYARD_CONFIG: '' } });
    expect(stdout.split('\n')).toEqual([
      'drain',
      'add delete list status',
      'mylogs',
      'short',
      'short',
      '--node --no-color --node-id',
      '--store --state-dir --status',
      'bash zsh',
      'acme',
      '',
    ]);
    // zsh: the same function through zsh's bashcompinit (zsh itself filters the words by prefix).
    const zshFile = join(node.root, 'logyard.zsh');
    writeFileSync(zshFile, (await run(process.execPath, [LOGYARD_BIN, 'completion', 'zsh'])).stdout);
    await run('zsh', ['-n', zshFile]);
    const zshDriver = [
      `source ${zshFile}`,
      'print -r -- "${_comps[logyard]}"',
      'COMP_WORDS=(logyard drain ""); COMP_CWORD=2; COMPREPLY=(); _logyard; print -r -- "${COMPREPLY[*]}"',
      `COMP_WORDS=(logyard --run-dir ${node.runDir} --state-dir ${node.stateDir} drain delete my); COMP_CWORD=7; COMPREPLY=(); _logyard; print -r -- "\${COMPREPLY[*]}"`,
    ].join('\n');
    const zsh = await run('zsh', ['-c', zshDriver], { env: { ...process.env, PATH: `${bin}:${process.env.PATH}`, LOGYARD_CONFIG: '' } });
    expect(zsh.stdout.split('\n')).toEqual(['_bash_complete -o default -F _logyard', 'add delete list status', expect.stringContaining('mylogs'), '']);
    const refused = await node.cli(['completion', 'fish']);
    expect(refused.code).toBe(2);
  });

  it('`logyard status | head -1` prints one line and no error, 20 times', async () => {
    const cmd = `"${process.execPath}" "${LOGYARD_BIN}" ${node.flags.map((f) => `'${f}'`).join(' ')}`;
    const env = { ...process.env, LOGYARD_CONFIG: '' };
    for (let i = 0; i < 20; i++) {
      const { stdout, stderr } = await run('bash', ['-c', `set -o pipefail; ${cmd} status | head -1`], { env });
      expect(stderr).toBe('');
      expect(stdout).toMatch(/^core {6}running, node usability, [^\n]*\n$/);
    }
    // A reader gone before the first write: every write meets a closed pipe (EPIPE).
    const closed = await run('bash', ['-c', `set -o pipefail; ${cmd} status | true; ${cmd} drain list | true; ${cmd} drain status | true`], { env });
    expect(closed.stderr).toBe('');
  }, 240_000); // 20 runs of the real command: minutes on a loaded machine
});
