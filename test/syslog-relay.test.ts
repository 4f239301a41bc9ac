import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { hostname } from 'node:os';
import { TestNode, until } from './helpers/cli.js';
import { NodeProcess } from './helpers/clients.js';
import { startRsyslogReceiver } from './setup/services.js';

/**
 * Logyard as a syslog relay between real programs: util-linux logger sends to `logyard receive`,
 * a syslog drain forwards to a real rsyslogd, which writes what it parsed to a file.
 */
describe('syslog relay: logger -> logyard receive -> syslog drain -> rsyslogd', () => {
  const node = new TestNode('relay-node');
  let rsyslog: Awaited<ReturnType<typeof startRsyslogReceiver>>;
  let receive: NodeProcess;
  let receivePort = 0;

  beforeAll(async () => {
    rsyslog = await startRsyslogReceiver();
    await node.startCore();
    expect((await node.cli(['drain', 'add', 'relay', `syslog://127.0.0.1:${rsyslog.port}`, '-f', 'syslog.lg-relay', '-f', 'own'])).code).toBe(0);
    await until(async () => (await node.drainStatus('relay'))?.state === 'RUNNING', 'drain relay RUNNING');
    receive = new NodeProcess(node, ['receive', '--syslog', 'tcp://127.0.0.1:0']);
    await receive.logged(/receive: started/);
    receivePort = Number(/syslog listening on tcp:\/\/127\.0\.0\.1:(\d+)/.exec(receive.log)![1]);
  });
  afterAll(async () => {
    await receive?.stop('SIGKILL');
    await node.cleanup();
    await rsyslog?.close();
  });

  it("keeps the sender's HOSTNAME and structured data; the node's own events carry its node_id", async () => {
    const logger = spawn('logger', [
      '--tcp', '--octet-count', '-n', '127.0.0.1', '-P', String(receivePort),
      '-t', 'lg-relay', '-p', 'local4.warning', '--msgid', 'ID47',
      '--sd-id', 'origin@32473', '--sd-param', 'ip="10.0.0.7"', '--sd-param', 'note="say \\"hi\\" [now\\]"',
      'relayed by logyard',
    ]);
    expect(await new Promise((resolve) => logger.once('exit', resolve))).toBe(0);
    expect((await node.cli(['publish', 'own.app', 'said on the node'])).code).toBe(0);
    await until(() => rsyslog.lines().length === 2, 'both lines at rsyslogd');

    const relayed = rsyslog.lines().find((line) => line.endsWith('|relayed by logyard'))!;
    const own = rsyslog.lines().find((line) => line !== relayed);
    const [host, app, , msgid, sd, priority, msg] = relayed.split('|');
    expect({ host, app, msgid, priority, msg }).toEqual({ host: hostname(), app: 'lg-relay', msgid: 'ID47', priority: 'local4.warning', msg: 'relayed by logyard' });
    // logger adds its own timeQuality element; every element and param arrives as the sender wrote it.
    expect(sd).toMatch(/^\[timeQuality tzKnown="1"[^\]]*\]/);
    expect(sd).toContain('[origin@32473 ip="10.0.0.7" note="say \\"hi\\" [now\\]"]');
    expect(own).toMatch(/^relay-node\|own\.app\|-\|-\|-\|user\.info\|said on the node$/);
  });
});
