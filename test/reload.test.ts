import { afterAll, describe, expect, it } from 'vitest';
import { appendFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Publisher } from '@logyard/bus';
import { TcpTarget, TestNode, until } from './helpers/cli.js';
import { NodeProcess, writeNodeConfig } from './helpers/clients.js';

/** SIGHUP to `logyard start` (issue 12): the config changes under a running core, losing nothing. */
describe('logyard start: SIGHUP re-reads the config', () => {
  const node = new TestNode('reload-node');
  const target = new TcpTarget();
  let start: NodeProcess | null = null;

  afterAll(() => Promise.all([start?.stop('SIGKILL'), target.close()]).then(() => node.cleanup()));

  it('changes a format, file roots and the clients without restarting the core; 2,001 events published across the reload all arrive', async () => {
    await target.listen();
    // A target that is down during the reload: its drain holds every event in memory meanwhile.
    const late = new TcpTarget();
    await late.listen();
    const latePort = late.port;
    await late.close();
    const outside = join(node.root, 'outside');
    const logs = join(node.root, 'logs');
    mkdirSync(logs, { recursive: true });
    writeFileSync(join(logs, 'app.log'), '');
    const config = (template: string, extra: string[]): string =>
      [
        'formats:',
        `  short: "${template}"`,
        'builtin_drains:',
        `  builtin.out: tcp://127.0.0.1:${target.port}?filter=reload&filter=systail&format=short`,
        `  builtin.file: file://${join(outside, 'out.log')}?filter=reload`,
        `  builtin.late: tcp://127.0.0.1:${latePort}?filter=reload&format=short`,
        ...extra,
      ].join('\n') + '\n';
    const file = writeNodeConfig(node, config('A {{text}}', ['clients: []']));
    start = new NodeProcess(node, ['-c', file, 'start']);
    await start.logged(/core reload-node listening/);
    await until(async () => (await node.drainStatus('builtin.file'))?.state === 'FATAL', 'the file drain outside the roots FATAL');
    const before = await node.status();

    const pub = new Publisher({ runDir: node.runDir, nodeId: node.nodeId });
    let hangup = false;
    for (let i = 0; i < 2000; i++) {
      pub.publish('reload.x', `event ${i}`);
      if (i === 1000) {
        writeFileSync(
          file,
          config('B {{text}}', ['clients: [systail]', `file_drain_roots: [${node.filesDir}, ${outside}]`, 'systail:', '  files:', `    app: ${join(logs, 'app.log')}`]),
        );
        start.child.kill('SIGHUP');
        hangup = true;
      }
      if (i % 50 === 0) await new Promise((r) => setTimeout(r, 5));
    }
    expect(hangup).toBe(true);
    // On a busy machine the last events may all be sent before the reload is done: one event
    // published after it says the new format is what runs from then on.
    await start.logged(/config reloaded from /);
    pub.publish('reload.x', 'event 2000');
    await pub.close();

    await until(() => target.lines.filter((l) => /^[AB] event \d+$/.test(l)).length >= 2001, 'all 2,001 events at the target', 20_000);
    const texts = target.lines.filter((l) => /^[AB] event \d+$/.test(l));
    expect(texts.map((l) => Number(l.split(' ')[2]))).toEqual(Array.from({ length: 2001 }, (_, i) => i));
    expect(texts[texts.length - 1]).toBe('B event 2000');
    expect(texts.findIndex((l) => l.startsWith('B'))).toBeGreaterThan(-1);
    // Once the new format is in use, every later event has it.
    expect(texts.slice(texts.findIndex((l) => l.startsWith('B'))).every((l) => l.startsWith('B'))).toBe(true);

    const after = await node.status();
    expect(after.pid).toBe(before.pid);
    expect(after.started).toBe(before.started);
    expect(after.drains.find((d: { name: string }) => d.name === 'builtin.out').dropped).toEqual(expect.objectContaining({ buffer_full: 0 }));
    await until(async () => (await node.drainStatus('builtin.file'))?.state === 'RUNNING', 'the file drain RUNNING under the new roots');

    // What the down drain held across its restart for the new format arrives, all of it in that format.
    expect((await node.drainStatus('builtin.late')).state).toBe('RETRYING');
    await late.listen(latePort);
    try {
      await until(() => late.lines.length >= 2001, 'the held events at the target that came up', 30_000);
      expect(late.lines).toEqual(Array.from({ length: 2001 }, (_, i) => `B event ${i}`));
    } finally {
      await late.close();
    }

    await start.logged(/systail: started/);
    appendFileSync(join(logs, 'app.log'), 'from systail\n');
    await until(() => target.lines.includes('B from systail'), 'a line from the systail started by the reload');
  });

  it('keeps the running config when the new one does not check, and says why', async () => {
    const file = join(node.root, 'logyard.yaml');
    writeFileSync(file, 'formats:\n  short: "C {{text}}"\nreceive:\n  rate: lots\n');
    start!.child.kill('SIGHUP');
    await start!.logged(/config not reloaded, the running one stays: .*logyard\.yaml:4: receive\.rate: must be a positive number/);
    const pub = new Publisher({ runDir: node.runDir, nodeId: node.nodeId });
    pub.publish('reload.x', 'still here');
    await pub.close();
    await until(() => target.lines.includes('B still here'), 'an event in the format still running');
    expect(target.lines.some((l) => l.startsWith('C '))).toBe(false);
  });
});

describe('logyard core: SIGHUP re-reads the config', () => {
  const node = new TestNode('reload-core');
  const target = new TcpTarget();
  let core: NodeProcess | null = null;

  afterAll(() => Promise.all([core?.stop('SIGKILL'), target.close()]).then(() => node.cleanup()));

  it('applies a changed format to the next events', async () => {
    await target.listen();
    const config = (template: string): string =>
      `formats:\n  short: "${template}"\nbuiltin_drains:\n  builtin.out: tcp://127.0.0.1:${target.port}?filter=core&format=short\n`;
    const file = writeNodeConfig(node, config('X {{text}}'));
    core = new NodeProcess(node, ['-c', file, 'core']);
    await core.logged(/core reload-core listening/);
    await until(async () => (await node.drainStatus('builtin.out'))?.state === 'RUNNING', 'the drain RUNNING');
    expect((await node.cli(['publish', 'core.x', 'before'])).code).toBe(0);
    await until(() => target.lines.includes('X before'), 'an event in the first format');
    writeFileSync(file, config('Y {{text}}'));
    core.child.kill('SIGHUP');
    await core.logged(/config reloaded from /);
    expect((await node.cli(['publish', 'core.x', 'after'])).code).toBe(0);
    await until(() => target.lines.includes('Y after'), 'an event in the new format');
  });

  it('says which changed settings wait for the next start (max_event, disk_sync) and still applies the rest', async () => {
    const file = writeNodeConfig(node, `max_event: 64KiB\ndisk_sync: always\nformats:\n  short: "Z {{text}}"\nbuiltin_drains:\n  builtin.out: tcp://127.0.0.1:${target.port}?filter=core&format=short\n`);
    core!.child.kill('SIGHUP');
    await core!.logged(/config reload: max_event changed; it takes effect at the next start/);
    await core!.logged(/config reload: disk_sync changed; it takes effect at the next start/);
    expect((await node.cli(['publish', 'core.x', 'later'])).code).toBe(0);
    await until(() => target.lines.includes('Z later'), 'an event in the format of the same reload');
  });
});
