import { afterEach, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { createSocket as createUdpSocket } from 'node:dgram';
import { connect, createServer, type Socket } from 'node:net';
import { join } from 'node:path';
import { TcpTarget, TestNode, until } from './helpers/cli.js';
import { NodeProcess, writeNodeConfig } from './helpers/clients.js';

function sendTcp(port: number, data: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const s = connect(port, '127.0.0.1', () => s.end(data));
    s.on('close', () => resolve());
    s.on('error', reject);
  });
}

function sendUdp(port: number, datagram: string): Promise<void> {
  const s = createUdpSocket('udp4');
  return new Promise((resolve, reject) => s.send(datagram, port, '127.0.0.1', (err) => (err ? reject(err) : s.close(() => resolve()))));
}

/** A port free on 127.0.0.1 for TCP and UDP alike (the config takes no port 0). */
function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

/** The config of a node whose core runs the receivers: syslog on tcp, JSON on udp. */
async function inCoreConfig(): Promise<{ yaml: string; tcp: number; udp: number }> {
  const [tcp, udp] = [await freePort(), await freePort()];
  const yaml = ['receive:', '  in_core: true', `  syslog: ["tcp://127.0.0.1:${tcp}"]`, `  json: ["udp://127.0.0.1:${udp}"]`].join('\n') + '\n';
  return { yaml, tcp, udp };
}

const listening = (log: string): boolean => /syslog listening on tcp/.test(log) && /json listening on udp/.test(log);

/** receive.in_core: the core runs the receivers itself (no `logyard receive` process, no ZeroMQ hop). */
describe('receive.in_core', () => {
  const cleanups: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  async function nodeWithTarget(id: string): Promise<{ node: TestNode; target: TcpTarget }> {
    const node = new TestNode(id);
    const target = await new TcpTarget().listen();
    cleanups.push(() => node.cleanup(), () => target.close());
    return { node, target };
  }

  it('logyard core receives syslog over TCP and JSON over UDP itself, routes them to drains and counts them as receive', async () => {
    const { node, target } = await nodeWithTarget('in-core-node');
    const ports = await inCoreConfig();
    const core = await node.startCore(['-c', writeNodeConfig(node, ports.yaml)]);
    await until(() => listening(node.coreLog), 'the core logging its two listeners');
    const add = await node.cli(['drain', 'add', 'rx', `tcp://127.0.0.1:${target.port}`, '-f', 'syslog', '-f', 'app', '--format', 'raw']);
    expect(add.code).toBe(0);
    await until(async () => (await node.drainStatus('rx'))?.state === 'RUNNING', 'drain rx RUNNING');
    // Counted from here: the drain add published its audit event to this core.
    const inBefore = (await node.status()).events.in;
    await sendTcp(ports.tcp, '<30>Nov 20 10:00:00 host web-7f9c[123]: GET /health 200\n<30>Nov 20 10:00:00 host web-7f9c[123]: second\n');
    await sendUdp(ports.udp, '{"name":"billing","text":"invoice sent","level":"info"}');
    await until(() => target.lines.length === 3, 'three events at the drain target');
    const byKey = (key: string) => target.rawEvents.filter((r) => r.key === key).map((r) => r.event);
    expect(byKey('syslog.web-7f9c').map((e) => e.text)).toEqual(['GET /health 200', 'second']);
    expect(byKey('syslog.web-7f9c')[0]).toMatchObject({ node_id: 'in-core-node', syslog: { appname: 'web-7f9c', procid: '123', severity: 'info' } });
    expect(byKey('app.billing')).toEqual([expect.objectContaining({ text: 'invoice sent', level: 'info', node_id: 'in-core-node' })]);

    // The core counts them as taken in, and the receivers' counters are where `logyard status` reads them, from the core's pid.
    expect((await node.status()).events.in - inBefore).toBe(3);
    await until(async () => {
      const stats = JSON.parse(readFileSync(join(node.runDir, 'clients', 'receive.json'), 'utf8'));
      return stats.received === 3 && stats.sent === 3;
    }, 'receive.json counting 3 received and sent');
    const stats = JSON.parse(readFileSync(join(node.runDir, 'clients', 'receive.json'), 'utf8'));
    expect(stats).toMatchObject({ client: 'receive', pid: core.pid, received: 3, published: 3, sent: 3, dropped: 0 });
    const status = await node.cli(['status', '--json']);
    expect(JSON.parse(status.stdout).clients.find((c: { client: string }) => c.client === 'receive')).toMatchObject({ received: 3 });

    // SIGTERM: the listeners close with the core, which exits 0.
    expect(await node.stopCore('SIGTERM')).toBe(0);
  });

  it('logyard start with receive in clients runs no receive process when in_core is set', async () => {
    const { node, target } = await nodeWithTarget('in-core-start');
    const add = await node.cli(['drain', 'add', 'rx', `tcp://127.0.0.1:${target.port}`, '-f', 'syslog', '--format', 'raw']);
    expect(add.code).toBe(0);
    const ports = await inCoreConfig();
    const config = writeNodeConfig(node, `clients: [receive]\n${ports.yaml}`);
    const start = new NodeProcess(node, ['-c', config, 'start']);
    cleanups.push(async () => void (await start.stop('SIGKILL')));
    await until(() => listening(start.log), 'the receivers listening');
    await until(async () => (await node.drainStatus('rx'))?.state === 'RUNNING', 'drain rx RUNNING');
    await sendTcp(ports.tcp, '<30>Nov 20 10:00:00 host web[1]: through start\n');
    await until(() => target.lines.length === 1, 'the event at the drain target');
    expect(target.rawEvents[0]).toMatchObject({ key: 'syslog.web', event: { text: 'through start' } });
    expect(start.log).not.toMatch(/client receive started/);
    expect((await start.stop('SIGTERM')).code).toBe(0);
  });

  it('holds a tcp sender back while a running drain is half full, instead of dropping: every line arrives once the target reads again', async () => {
    const node = new TestNode('in-core-slow');
    cleanups.push(() => node.cleanup());
    // A target that takes the connection and does not read until told to.
    let lines = 0;
    const sockets: Socket[] = [];
    const target = createServer((socket) => {
      socket.pause();
      sockets.push(socket);
      socket.on('data', (chunk: Buffer) => {
        for (let i = chunk.indexOf(10); i >= 0; i = chunk.indexOf(10, i + 1)) lines++;
      });
      socket.on('error', () => {});
    });
    await new Promise<void>((r) => target.listen(0, '127.0.0.1', () => r()));
    cleanups.push(async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => target.close(() => r()));
    });
    const ports = await inCoreConfig();
    await node.startCore(['-c', writeNodeConfig(node, ports.yaml.replace('receive:', 'receive:\n  rate: 1000000\n  burst: 1000000'))]);
    const port = (target.address() as { port: number }).port;
    expect((await node.cli(['drain', 'add', 'slow', `tcp://127.0.0.1:${port}?filter=syslog&format={{text}}&buffer=2000`])).code).toBe(0);
    await until(async () => (await node.drainStatus('slow'))?.state === 'RUNNING', 'drain slow RUNNING');

    // Far more than the kernel's socket buffers and the drain's 2,000 events hold together.
    const LINES = 300_000;
    const pad = 'x'.repeat(100);
    let data = '';
    for (let i = 0; i < LINES; i++) data += `<30>Nov 20 10:00:00 host web[1]: ${i} ${pad}\n`;
    const sent = sendTcp(ports.tcp, data);
    await until(async () => (await node.drainStatus('slow')).buffered >= 1000, 'the drain half full', 30_000);
    for (const s of sockets) s.resume();
    // Every line either arrives or is counted as dropped; none may be.
    await until(async () => lines + (await node.drainStatus('slow')).dropped.buffer_full >= LINES, `${LINES} lines accounted for (got ${lines})`, 120_000);
    await sent;
    const drain = await node.drainStatus('slow');
    expect(drain.dropped.buffer_full).toBe(0);
    expect(lines).toBe(LINES);
  }, 180_000);

  it('a core with in_core and no listener exits 2 naming the problem; in_core must be true or false', async () => {
    const { node } = await nodeWithTarget('in-core-bad');
    const none = writeNodeConfig(node, 'receive:\n  in_core: true\n', 'none.yaml');
    const r = await node.cli(['-c', none, 'core']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/nothing to receive: no listener in receive\.syslog, receive\.json or receive\.gelf/);
    expect(r.stderr).not.toMatch(/\n\s+at /);
    const bad = writeNodeConfig(node, 'receive:\n  in_core: yes please\n', 'bad.yaml');
    const check = await node.cli(['-c', bad, 'config', 'check']);
    expect(check.code).toBe(2);
    expect(check.stderr).toMatch(/receive\.in_core: must be true or false/);
  });
});
