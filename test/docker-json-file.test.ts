import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { TcpTarget, TestNode, until } from './helpers/cli.js';
import { NodeProcess, writeNodeConfig } from './helpers/clients.js';
import { startDocker, type RunningDocker } from './setup/services.js';

/**
 * apptail reading Docker's default json-file logs (issue 17), written by a real dockerd for
 * real containers (busybox-static), into a real core with a tcp drain.
 */
describe('apptail and Docker json-file logs', () => {
  const node = new TestNode('docker-json-node');
  const target = new TcpTarget();
  let docker: RunningDocker;
  let apptail: NodeProcess;
  let apptailArgs: string[];

  const eventsOf = (id: string): any[] => target.events.filter((e) => e.app_id === id);
  const apptailStats = async (): Promise<any> => {
    const r = await node.cli(['status', '--json']);
    return JSON.parse(r.stdout).clients.find((c: { client: string }) => c.client === 'apptail');
  };

  beforeAll(async () => {
    docker = await startDocker();
    await node.startCore();
    await target.listen();
    expect((await node.cli(['drain', 'add', 'apps', `tcp://127.0.0.1:${target.port}`, '-f', 'apptail'])).code).toBe(0);
    await until(async () => (await node.drainStatus('apps'))?.state === 'RUNNING', 'drain apps RUNNING');
    const config = writeNodeConfig(
      node,
      [
        'systail:',
        '  max_line: 200000', // apptail cuts text at max_line: large enough for the 100 KB line to stay whole
        'apptail:',
        '  rate: 10000',
        '  patterns:',
        `    - path: ${join(docker.dataRoot, 'containers')}/{app_id}/{app_id}-json.log`,
        '      format: docker-json',
      ].join('\n') + '\n',
    );
    apptailArgs = ['-c', config, 'apptail'];
    apptail = new NodeProcess(node, apptailArgs);
    await apptail.logged(/apptail: started/);
  });
  afterAll(async () => {
    await apptail?.stop('SIGKILL');
    await docker?.stop();
    await target.close();
    await node.cleanup();
  });

  it('a 5,000-character line, a 100 KB line, a stderr line between two parts of a long stdout line and a last line without newline arrive whole, as their stream, in order', async () => {
    const script = [
      "head -c 5000 /dev/zero | tr '\\0' a; echo",
      "head -c 100000 /dev/zero | tr '\\0' b; echo",
      // 20,000 c's: Docker writes a partial record of 16 KiB, then the stderr line, then the rest
      // (well within the 2 s a part waits for the rest of its line).
      "head -c 20000 /dev/zero | tr '\\0' c; sleep 0.3; echo oops >&2; sleep 0.3; echo ' end of c'",
      'printf no-newline-at-end',
    ].join('; ');
    const id = (await docker.docker(['run', '-d', '--network', 'none', docker.image, 'sh', '-c', script])).trim();
    await docker.docker(['wait', id]);
    await until(() => eventsOf(id).length >= 5, 'five lines of the container', 20_000);
    const got = eventsOf(id).map((e) => [e.source, e.text.length > 30 ? `${e.text[0]} x ${e.text.length}` : e.text]);
    expect(got).toEqual([
      ['stdout', 'a x 5000'],
      ['stdout', 'b x 100000'],
      ['stderr', 'oops'],
      ['stdout', `c x ${20000 + ' end of c'.length}`],
      ['stdout', 'no-newline-at-end'],
    ]);
    const events = eventsOf(id);
    expect(events[3].text).toBe('c'.repeat(20000) + ' end of c');
    // Docker's record time, not the time apptail read it: before the container was removed, close to its end.
    const last = events[4];
    expect(last.unix_time).toBeGreaterThanOrEqual(events[3].unix_time);
    expect(new Date(last.human_time).getTime() / 1000).toBeCloseTo(last.unix_time, 0);
    expect(last.filename).toBe(join(docker.dataRoot, 'containers', id, `${id}-json.log`));
    const stats = await apptailStats();
    expect(stats.invalidJson).toBe(0);
  });

  it('a line whose first part is held while apptail restarts arrives complete, once: the saved position stays before the held part', async () => {
    const id = (
      await docker.docker(['run', '-d', '--network', 'none', docker.image, 'sh', '-c', "echo before; head -c 20000 /dev/zero | tr '\\0' p; sleep 5; echo ' rest'; echo after"])
    ).trim();
    await until(() => eventsOf(id).some((e) => e.text === 'before'), 'the first line', 20_000);
    // The 16 KiB part is in the file and held by apptail (no newline yet): stop apptail now.
    await new Promise((r) => setTimeout(r, 500));
    expect((await apptail.stop('SIGTERM')).code).toBe(0);
    apptail = new NodeProcess(node, apptailArgs);
    await apptail.logged(/apptail: started/);
    await docker.docker(['wait', id]);
    await until(() => eventsOf(id).some((e) => e.text === 'after'), 'the last line', 20_000);
    // Nothing lost, nothing twice. The part is read again after the restart; as its rest comes
    // more than the quiet time (2 s) later, it goes out on its own, then the rest.
    const texts = eventsOf(id).map((e) => e.text);
    expect(texts[0]).toBe('before');
    expect(texts.at(-1)).toBe('after');
    expect(texts.slice(1, -1).join('')).toBe('p'.repeat(20000) + ' rest');
  });

  it('400 lines written as fast as a container can with max-size=10k max-file=5 all arrive, in order', async () => {
    // About 110 bytes per json-file record: 44 KB in all, so Docker rotates four times within
    // milliseconds but keeps every file (5 x 10 KB). With more than max-file keeps, lines Docker
    // removes before apptail first finds the container cannot be known to apptail (docs/clients.md);
    // on a loaded machine apptail may find it only after the container ended.
    const pad = 'x'.repeat(30);
    const id = (
      await docker.docker([
        'run', '-d', '--network', 'none', '--log-opt', 'max-size=10k', '--log-opt', 'max-file=5', docker.image,
        'sh', '-c', `seq 1 400 | while read i; do echo "line $i ${pad}"; done`,
      ])
    ).trim();
    await docker.docker(['wait', id]);
    const logPath = (await docker.docker(['inspect', '--format', '{{.LogPath}}', id])).trim();
    expect(logPath).toBe(join(docker.dataRoot, 'containers', id, `${id}-json.log`));
    // Docker really rotated while the container wrote, and removed nothing.
    expect(existsSync(`${logPath}.4`)).toBe(true);
    await until(() => eventsOf(id).length >= 400, 'the 400 lines', 30_000);
    const lines = eventsOf(id).filter((e) => e.source === 'stdout').map((e) => Number(/^line (\d+) /.exec(e.text)?.[1]));
    expect(lines).toEqual(Array.from({ length: 400 }, (_, i) => i + 1));
    expect(eventsOf(id).filter((e) => e.source === 'logyard')).toEqual([]);
  });
});
