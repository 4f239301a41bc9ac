import { afterAll, describe, expect, it } from 'vitest';
import { mkdirSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runCli, TestNode } from './helpers/cli.js';
import { NodeProcess } from './helpers/clients.js';

const SHIPPED_CONFIG = fileURLToPath(new URL('../configs/logyard.yaml', import.meta.url));

/** `logyard config check [FILE]` (issue 12): what `start` would refuse, as FILE:LINE: KEY: problem. */
describe('logyard config check', () => {
  const node = new TestNode('config-check');
  const write = (name: string, text: string): string => {
    const path = join(node.root, name);
    writeFileSync(path, text);
    return path;
  };

  afterAll(async () => {
    await node.cleanup();
  });

  it('prints the effective config of the shipped file and exits 0', async () => {
    const r = await node.cli(['config', 'check', SHIPPED_CONFIG]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`# ${SHIPPED_CONFIG}: OK\n`);
    expect(r.stdout).toContain('node_id: config-check\n');
    expect(r.stdout).toContain(`run_dir: ${node.runDir}\n`);
    expect(r.stdout).toMatch(/^receive:\n {2}syslog: \[\]\n/m);
  });

  it('names file, line and key of an unknown key, a wrong type and a bad listener, and exits 2', async () => {
    const file = write('three.yaml', ['status: off', 'clients: [systail]', 'systail:', '  maxline: 10', 'apptail:', '  rate: fast', 'receive:', '  syslog: [tcp://127.0.0.1]'].join('\n') + '\n');
    const r = await node.cli(['config', 'check', file]);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr.split('\n').filter(Boolean)).toEqual([
      `${file}:4: systail.maxline: unknown key; did you mean max_line?`,
      `${file}:6: apptail.rate: must be a positive number`,
      `${file}:8: receive.syslog[0]: "127.0.0.1" is not host:port`,
    ]);
  });

  it('names a receive port that another program holds, an address not of this machine and a bad built-in drain', async () => {
    const holder: Server = createServer();
    await new Promise<void>((r) => holder.listen(0, '127.0.0.1', () => r()));
    const port = (holder.address() as { port: number }).port;
    try {
      mkdirSync(join(node.root, 'elsewhere'), { recursive: true });
      const file = write(
        'env.yaml',
        [
          'receive:',
          `  syslog: [tcp://127.0.0.1:${port}, udp://192.0.2.77:5514]`,
          'builtin_drains:',
          `  builtin.archive: file://${join(node.root, 'elsewhere', 'x.log')}`,
          '  builtin.short: tcp://127.0.0.1:9?format=shrot',
          'formats:',
          '  short: "{{text}}"',
        ].join('\n') + '\n',
      );
      const r = await node.cli(['config', 'check', file]);
      expect(r.code).toBe(2);
      expect(r.stderr.split('\n').filter(Boolean)).toEqual([
        `${file}:2: receive.syslog[0]: port ${port} is taken (another program listens on tcp://127.0.0.1:${port})`,
        `${file}:2: receive.syslog[1]: 192.0.2.77 is not an address of this machine`,
        expect.stringMatching(new RegExp(`^${file}:4: builtin_drains.builtin.archive: file drain path ".*x.log" is outside file_drain_roots`)),
        expect.stringMatching(new RegExp(`^${file}:5: builtin_drains.builtin.short: drain URI: unknown format "shrot".*did you mean short\\?`)),
      ]);
    } finally {
      await new Promise<void>((r) => holder.close(() => r()));
    }
  });

  it("does not call the ports of this node's own running receiver taken (checking before a reload)", async () => {
    const probe: Server = createServer();
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', () => r()));
    const port = (probe.address() as { port: number }).port;
    await new Promise<void>((r) => probe.close(() => r()));
    const running = write('running.yaml', `clients: [receive]\nreceive:\n  syslog: [tcp://localhost:${port}]\n`);
    const start = new NodeProcess(node, ['-c', running, 'start']);
    try {
      await start.logged(/receive: started/);
      const same = await node.cli(['config', 'check', running]);
      expect(same.stderr).toBe('');
      expect(same.code).toBe(0);
      // The same port written another way is still the receiver's own.
      const other = write('running-ip.yaml', `clients: [receive]\nreceive:\n  syslog: [tcp://127.0.0.1:${port}]\n`);
      expect((await node.cli(['config', 'check', other])).code).toBe(0);
    } finally {
      await start.stop();
    }
  });

  it('refuses a YAML alias bomb and an etcd store without a host, at check and at start, naming file and key', async () => {
    const laughs = ['a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]'];
    for (let i = 1; i < 9; i++) laughs.push(`${'abcdefghi'[i]}: &${'abcdefghi'[i]} [${Array(9).fill(`*${'abcdefghi'[i - 1]}`).join(', ')}]`);
    const bomb = write('bomb.yaml', `status: off\nformats:\n${laughs.map((l) => `  ${l}`).join('\n')}\n`);
    const noHost = write('nohost.yaml', 'store: etcd://\n');
    for (const [file, line] of [
      [bomb, `${bomb}:4: formats: expands too many YAML aliases (more than 100); is it an alias bomb?`],
      [noHost, `${noHost}:1: store: etcd:// must be followed by host:port (e.g. etcd://10.0.0.1:2379)`],
    ]) {
      const check = await node.cli(['config', 'check', file]);
      expect(check.code).toBe(2);
      expect(check.stderr).toBe(`${line}\n`);
      const start = await runCli(['--run-dir', node.runDir, '--state-dir', node.stateDir, '-c', file, 'start']);
      expect(start.code).toBe(2);
      expect(start.stderr).toBe(`logyard: ${line}\n`);
    }
  });

  it('checks the config start would use when no FILE is given (LOGYARD_CONFIG)', async () => {
    const file = write('env-named.yaml', 'stauts: off\n');
    const r = await node.cli(['config', 'check'], { env: { LOGYARD_CONFIG: file } });
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(`${file}:1: stauts: unknown key; did you mean status?\n`);
  });
});
