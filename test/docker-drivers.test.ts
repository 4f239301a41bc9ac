import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { TcpTarget, TestNode, until } from './helpers/cli.js';
import { NodeProcess, writeNodeConfig } from './helpers/clients.js';
import { startDocker, type RunningDocker } from './setup/services.js';

/**
 * Docker's gelf and syslog log drivers (issue 17), from a real dockerd and real containers into
 * `logyard receive` and a real core with a tcp drain. The drivers send from the daemon, so the
 * containers need no network.
 */
describe('logyard receive and Docker log drivers', () => {
  const node = new TestNode('docker-rx-node');
  const target = new TcpTarget();
  const unixgramPath = join(node.root, 'syslog.sock');
  const ports: Record<string, number> = {};
  let docker: RunningDocker;
  let receive: NodeProcess;

  const ofKey = (key: string): any[] => target.rawEvents.filter((r) => r.key === key).map((r) => r.event);
  const receiveStats = async (): Promise<any> => {
    const r = await node.cli(['status', '--json']);
    return JSON.parse(r.stdout).clients.find((c: { client: string }) => c.client === 'receive');
  };
  /** Runs a container to its end with these log options; returns its id. */
  const run = async (name: string, logOptions: string[], script: string): Promise<string> => {
    const id = (await docker.docker(['run', '-d', '--name', name, '--network', 'none', ...logOptions, docker.image, 'sh', '-c', script])).trim();
    await docker.docker(['wait', id]);
    return id;
  };

  beforeAll(async () => {
    docker = await startDocker();
    await node.startCore();
    await target.listen();
    expect((await node.cli(['drain', 'add', 'rx', `tcp://127.0.0.1:${target.port}`, '-f', 'gelf', '-f', 'syslog', '--format', 'raw'])).code).toBe(0);
    await until(async () => (await node.drainStatus('rx'))?.state === 'RUNNING', 'drain rx RUNNING');
    const config = writeNodeConfig(node, ['receive:', '  rate: 100000', '  burst: 100000'].join('\n') + '\n');
    receive = new NodeProcess(node, [
      '-c', config, 'receive',
      '--gelf', 'udp://127.0.0.1:0', '--gelf', 'tcp://127.0.0.1:0',
      '--syslog', 'udp://127.0.0.1:0', '--syslog', 'tcp://127.0.0.1:0', '--syslog', `unixgram://${unixgramPath}`,
    ]);
    await receive.logged(/receive: started/);
    for (const m of receive.log.matchAll(/(syslog|gelf) listening on (tcp|udp):\/\/127\.0\.0\.1:(\d+)/g)) ports[`${m[1]} ${m[2]}`] = Number(m[3]);
    expect(Object.keys(ports).sort()).toEqual(['gelf tcp', 'gelf udp', 'syslog tcp', 'syslog udp']);
  });
  afterAll(async () => {
    await receive?.stop('SIGKILL');
    await docker?.stop();
    await target.close();
    await node.cleanup();
  });

  it('gelf over udp, uncompressed, gzip and zlib, a line big enough to be chunked, and over tcp: one event each with key, text, severity and the container fields', async () => {
    const long = 'L'.repeat(5000);
    const cases = [
      { name: 'gelf-none', opts: ['--log-opt', `gelf-address=udp://127.0.0.1:${ports['gelf udp']}`, '--log-opt', 'gelf-compression-type=none'] },
      { name: 'gelf-gzip', opts: ['--log-opt', `gelf-address=udp://127.0.0.1:${ports['gelf udp']}`, '--log-opt', 'gelf-compression-type=gzip'] },
      { name: 'gelf-zlib', opts: ['--log-opt', `gelf-address=udp://127.0.0.1:${ports['gelf udp']}`, '--log-opt', 'gelf-compression-type=zlib'] },
      { name: 'gelf-tcp', opts: ['--log-opt', `gelf-address=tcp://127.0.0.1:${ports['gelf tcp']}`] },
    ];
    const ids: Record<string, string> = {};
    for (const c of cases) {
      ids[c.name] = await run(c.name, ['--log-driver', 'gelf', ...c.opts, '--log-opt', 'tag=t-{{.Name}}'], `echo "hello from ${c.name}"; echo "trouble in ${c.name}" >&2; printf '%s\\n' ${long}`);
    }
    await until(() => cases.every((c) => ofKey(`gelf.${c.name}`).length >= 3), 'three events from every container', 20_000);
    for (const c of cases) {
      const events = ofKey(`gelf.${c.name}`);
      expect(events).toHaveLength(3);
      const byText = (t: string): any => events.find((e) => e.text === t);
      expect(byText(`hello from ${c.name}`)).toMatchObject({
        severity: 'info',
        _container_name: c.name,
        _container_id: ids[c.name],
        _image_name: docker.image,
        _tag: `t-${c.name}`,
        _command: expect.stringContaining('sh -c'),
        host: expect.any(String),
        node_id: 'docker-rx-node',
      });
      expect(byText(`trouble in ${c.name}`)).toMatchObject({ severity: 'err', _container_name: c.name });
      // 5,000 characters: chunked over udp without compression.
      expect(byText(long)).toMatchObject({ severity: 'info', _container_name: c.name });
      expect(typeof byText(long).unix_time).toBe('number');
    }
    const stats = await receiveStats();
    expect(stats.malformed).toEqual({});
  });

  it('syslog driver: rfc3164 over tcp, rfc5424 over udp, rfc5424micro over unixgram, with tags, and a 100 KB line cut at 16 KiB arriving in order', async () => {
    const big = 'B'.repeat(100_000);
    await run('sys-3164', ['--log-driver', 'syslog', '--log-opt', `syslog-address=tcp://127.0.0.1:${ports['syslog tcp']}`, '--log-opt', 'tag={{.Name}}'], `echo plain 3164; printf '%s\\n' ${big}`);
    await run('sys-5424', ['--log-driver', 'syslog', '--log-opt', `syslog-address=udp://127.0.0.1:${ports['syslog udp']}`, '--log-opt', 'syslog-format=rfc5424', '--log-opt', 'tag={{.Name}}'], 'echo over udp 5424; echo to stderr >&2');
    await run('sys-micro', ['--log-driver', 'syslog', '--log-opt', `syslog-address=unixgram://${unixgramPath}`, '--log-opt', 'syslog-format=rfc5424micro', '--log-opt', 'tag=micro-tag'], 'echo over unixgram micro');
    await until(() => ofKey('syslog.sys-3164').reduce((n, e) => n + e.text.length, 0) >= 100_000 + 'plain 3164'.length && ofKey('syslog.sys-5424').length >= 2 && ofKey('syslog.micro-tag').length >= 1, 'the syslog events', 20_000);
    const t3164 = ofKey('syslog.sys-3164');
    expect(t3164[0]).toMatchObject({ text: 'plain 3164', syslog: { appname: 'sys-3164', facility: 'daemon' } });
    // Docker cuts lines at 16 KiB for every driver; the parts arrive in order.
    expect(t3164.slice(1).map((e) => e.text).join('')).toBe(big);
    expect(t3164.slice(1).every((e) => e.text.length <= 16 * 1024)).toBe(true);
    // stdout and stderr are read apart by Docker: their order is not kept.
    expect(ofKey('syslog.sys-5424').map((e) => [e.text, e.syslog.severity]).sort()).toEqual([
      ['over udp 5424', 'info'],
      ['to stderr', 'err'],
    ]);
    expect(ofKey('syslog.sys-5424')[0].syslog.timestamp).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/);
    expect(ofKey('syslog.micro-tag')[0]).toMatchObject({ text: 'over unixgram micro', syslog: { appname: 'micro-tag' } });
    expect(ofKey('syslog.micro-tag')[0].syslog.timestamp).toMatch(/\.\d{6}/);
    expect((await receiveStats()).malformed).toEqual({});
  });
});
