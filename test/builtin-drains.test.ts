import { afterAll, describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { TcpTarget, TestNode, until } from './helpers/cli.js';

describe('built-in drains from the config', () => {
  const node = new TestNode('builtin-node');
  const target = new TcpTarget();
  afterAll(async () => {
    await target.close();
    await node.cleanup();
  });

  it('run like stored drains, are listed as built in, and cannot be deleted', async () => {
    await target.listen();
    const config = join(node.root, 'logyard.yaml');
    writeFileSync(config, `builtin_drains:\n  builtin.audit: tcp://127.0.0.1:${target.port}/?filter=audit\n`);
    await node.startCore(['-c', config]);
    await until(async () => (await node.drainStatus('builtin.audit'))?.state === 'RUNNING', 'the built-in drain RUNNING');
    expect((await node.cli(['-c', config, 'publish', 'audit.login', 'root logged in'])).code).toBe(0);
    await until(() => target.lines.length === 1, 'the event at the built-in drain');
    expect(target.events[0].text).toBe('root logged in');

    const list = await node.cli(['-c', config, 'drain', 'list']);
    expect(list.stdout).toMatch(/^builtin\.audit\s+tcp:\/\/127\.0\.0\.1:\d+\/\?filter=audit\s+\(built in\)$/m);
    const del = await node.cli(['-c', config, 'drain', 'delete', 'builtin.audit']);
    expect(del.code).toBe(2);
    expect(del.stderr).toMatch(/^logyard: drain builtin\.audit is built in: it is defined by builtin_drains in the config/);
    const add = await node.cli(['-c', config, 'drain', 'add', 'builtin.other', 'tcp://127.0.0.1:1']);
    expect(add.code).toBe(2);
    expect((await node.drainStatus('builtin.audit')).state).toBe('RUNNING');
  });
});
