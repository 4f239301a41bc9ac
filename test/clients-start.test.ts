import { afterAll, describe, expect, it } from 'vitest';
import { appendFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { TcpTarget, TestNode, until } from './helpers/cli.js';
import { NodeProcess, writeNodeConfig } from './helpers/clients.js';

/** `logyard start` (issue 4): the core plus its clients as real processes. */
describe('logyard start', () => {
  const node = new TestNode('start-node');
  const target = new TcpTarget();
  let start: NodeProcess | null = null;

  afterAll(async () => {
    await start?.stop('SIGKILL');
    await target.close();
    await node.cleanup();
  });

  it('restarts a client killed with kill -9, and on SIGTERM stops everything and exits 0 within 5 s', async () => {
    const logs = join(node.root, 'logs');
    mkdirSync(logs, { recursive: true });
    writeFileSync(join(logs, 'main.log'), '');
    const config = writeNodeConfig(
      node,
      ['clients: [systail, apptail, events]', 'systail:', '  files:', `    main: ${join(logs, 'main.log')}`].join('\n') + '\n',
    );
    start = new NodeProcess(node, ['-c', config, 'start']);
    for (const c of ['systail', 'apptail', 'events']) await start.logged(new RegExp(`${c}: started`));
    await target.listen();
    expect((await node.cli(['drain', 'add', 'all', `tcp://127.0.0.1:${target.port}`, '--filter', 'systail'])).code).toBe(0);

    const pid = Number(/client systail started \(pid (\d+)\)/.exec(start.log)![1]);
    process.kill(pid, 'SIGKILL');
    await start.logged(/client systail was killed by SIGKILL; restarting/);
    await until(() => [...start!.log.matchAll(/client systail started \(pid (\d+)\)/g)].length === 2, 'a second systail', 15_000);
    const second = Number([...start.log.matchAll(/client systail started \(pid (\d+)\)/g)][1][1]);
    expect(second).not.toBe(pid);
    await until(() => (start!.log.match(/systail: started/g) ?? []).length === 2, 'the new systail running');
    appendFileSync(join(logs, 'main.log'), 'after the restart\n');
    await until(() => target.events.some((e) => e.text === 'after the restart'), 'a line from the restarted systail');

    const status = await until(async () => {
      const r = await node.cli(['status']);
      return r.stdout.includes(`client    systail: running, pid ${second}`) ? r : null;
    }, 'logyard status listing the clients');
    expect(status.stdout).toMatch(/^client {4}apptail: running, pid \d+; /m);
    expect(status.stdout).toMatch(/^client {4}events: running, pid \d+; /m);

    const { code, ms } = await start.stop('SIGTERM');
    expect(code).toBe(0);
    expect(ms).toBeLessThan(5000);
    for (const c of ['systail', 'apptail', 'events']) expect(start.log).toMatch(new RegExp(`${c}: stopped`));
    expect(() => process.kill(second, 0)).toThrow();
  });

  it('does not restart a client that exits 2 (its configuration), and runs on without it', async () => {
    const other = new TestNode('start-bad-client');
    const config = writeNodeConfig(other, ['clients: [events, receive]', 'receive:', '  syslog: []', '  json: []'].join('\n') + '\n');
    const run = new NodeProcess(other, ['-c', config, 'start']);
    try {
      await run.logged(/client receive exited with code 2 \(its configuration, see above\); not restarting it/);
      await run.logged(/events: started/);
      // Long enough for a restart with backoff (the first comes after 1 s) to have shown.
      await new Promise((r) => setTimeout(r, 2_500));
      expect(run.log.match(/client receive started/g)).toHaveLength(1);
      expect((await other.cli(['status'])).stdout).toMatch(/^client {4}events: running/m);
      expect((await run.stop('SIGTERM')).code).toBe(0);
    } finally {
      await run.stop('SIGKILL');
      await other.cleanup();
    }
  });
});
