import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { appendFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { TcpTarget, TestNode, until } from './helpers/cli.js';
import { NodeProcess, writeNodeConfig } from './helpers/clients.js';

const RULES_FILE = join(dirname(fileURLToPath(import.meta.url)), '../configs/events-rules.yaml');

/** apptail and events (issue 4) with real files and processes. */
describe('apptail and events', () => {
  const node = new TestNode('app-node');
  const apps = join(node.root, 'apps');
  const containers = join(node.root, 'containers');
  const logs = join(node.root, 'logs');
  const appTarget = new TcpTarget();
  const eventTarget = new TcpTarget();
  const procs: NodeProcess[] = [];

  async function drain(name: string, target: TcpTarget, filter: string): Promise<void> {
    const r = await node.cli(['drain', 'add', name, `tcp://127.0.0.1:${target.port}`, '--filter', filter]);
    expect(r.code).toBe(0);
    await until(async () => (await node.drainStatus(name))?.state === 'RUNNING', `drain ${name} RUNNING`);
  }

  beforeAll(async () => {
    for (const d of [apps, containers, logs]) mkdirSync(d, { recursive: true });
    writeFileSync(join(logs, 'kern.log'), '');
    const config = writeNodeConfig(
      node,
      [
        'systail:',
        '  files:',
        `    kern: ${join(logs, 'kern.log')}`,
        'apptail:',
        '  rate: 1',
        '  burst: 100',
        '  patterns:',
        `    - path: ${apps}/{app_name}/{app_id}/{instance_index}/{source}.log`,
        `    - path: ${containers}/{app_id}/{app_id}-json.log`,
        '      format: docker-json',
        'events:',
        '  rules:',
        '    kern:',
        '      disk_full: { substring: "No space", regex: "No space left on device: (\\\\S+)", format: "disk full at $1", severity: ERROR }',
      ].join('\n') + '\n',
    );
    await node.startCore();
    await appTarget.listen();
    await eventTarget.listen();
    await drain('apps', appTarget, 'apptail');
    await drain('events', eventTarget, 'event');
    for (const args of [['apptail'], ['systail'], ['events', '--rules', RULES_FILE]]) {
      const p = new NodeProcess(node, ['-c', config, ...args]);
      procs.push(p);
      await p.logged(new RegExp(`${args[0]}: started`));
    }
  });
  afterAll(async () => {
    for (const p of procs) await p.stop('SIGKILL');
    await appTarget.close();
    await eventTarget.close();
    await node.cleanup();
  });

  it('reads docker json-file lines of an instance created after the start, and skips invalid ones', async () => {
    const dir = join(containers, 'c0ffee');
    mkdirSync(dir);
    const file = join(dir, 'c0ffee-json.log');
    const rec = (log: string, stream: string): string => JSON.stringify({ log, stream, time: '2024-05-01T12:00:00.123456789Z' }) + '\n';
    writeFileSync(file, rec('hello from docker\n', 'stdout') + 'not json at all\n' + '{"stream":"stdout"}\n' + rec('oops\n', 'stderr'));
    await until(() => appTarget.events.filter((e) => e.app_id === 'c0ffee').length >= 2, 'two docker lines');
    const got = appTarget.events.filter((e) => e.app_id === 'c0ffee');
    expect(got.map((e) => [e.text, e.source])).toEqual([['hello from docker', 'stdout'], ['oops', 'stderr']]);
    expect(got[0]).toMatchObject({ app_name: 'c0ffee', instance_index: 0, filename: file, node_id: 'app-node' });
    expect(got[0].unix_time).toBeCloseTo(Date.parse('2024-05-01T12:00:00.123Z') / 1000, 3);
    await until(() => JSON.parse(readFileSync(join(node.runDir, 'clients', 'apptail.json'), 'utf8')).invalidJson === 2, 'invalidJson counted');
  });

  it('cuts 1,000 lines at once with burst 100 and tells the cut in the app stream', async () => {
    const dir = join(apps, 'shop', 'app42', '3');
    mkdirSync(dir, { recursive: true });
    const lines = Array.from({ length: 1000 }, (_, i) => `burst ${i}\n`).join('');
    writeFileSync(join(dir, 'stdout.log'), lines);
    await until(() => appTarget.events.some((e) => /beginning to drop events from apptail\.app42/.test(e.text)), 'the begin notice');
    const ofApp = (): any[] => appTarget.events.filter((e) => e.app_id === 'app42');
    const passed = ofApp().filter((e) => e.text.startsWith('burst '));
    expect(passed.length).toBeGreaterThanOrEqual(100);
    expect(passed.length).toBeLessThan(110);
    expect(passed[0]).toMatchObject({ app_name: 'shop', instance_index: 3, source: 'stdout' });
    // The end of the drops and their count follow once the bucket has a token again.
    await until(() => ofApp().some((e) => /logyard: dropped \d+ events from apptail\.app42/.test(e.text)), 'the count notice', 5000);
    const end = ofApp().find((e) => /logyard: dropped \d+ events/.test(e.text));
    const dropped = Number(/dropped (\d+) events/.exec(end.text)![1]);
    expect(dropped + passed.length).toBe(1000);
    expect(ofApp().find((e) => /beginning to drop/.test(e.text)).text).toMatch(/\(rate limit 1\/s\)$/);
  });

  it('turns a matching systail line into event.<type> with the captured text in desc', async () => {
    appendFileSync(join(logs, 'kern.log'), 'write failed: No space left on device: /var/lib/data\n');
    appendFileSync(join(logs, 'kern.log'), 'Out of memory: Killed process 4242 (java) total-vm:1234kB\n');
    // Not the audit events of the drains added above (event.logyard_audit), which may reach this drain too.
    const ruled = (): any[] => eventTarget.events.filter((e) => e.type !== 'logyard_audit');
    await until(() => ruled().length >= 2, 'two events');
    const [disk, oom] = ruled();
    expect(disk).toMatchObject({ type: 'disk_full', desc: 'disk full at /var/lib/data', severity: 'ERROR', process: 'kern', node_id: 'app-node' });
    expect(disk.info.line).toBe('write failed: No space left on device: /var/lib/data');
    expect(oom).toMatchObject({ type: 'oom_kill', desc: 'kernel killed java (pid 4242): out of memory', severity: 'ERROR' });
  });

  it('refuses an invalid regex in a rule as a config error naming the rule', async () => {
    const bad = writeNodeConfig(node, 'events:\n  rules:\n    __all__:\n      broken: { regex: "(unclosed", format: "$1" }\n', 'bad.yaml');
    const r = await node.cli(['-c', bad, 'events']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/events\.rules\.__all__\.broken\.regex/);
  });
});
