import { createSocket, type Socket } from 'node:dgram';
import { afterEach, describe, expect, it } from 'vitest';
import type { DrainStatus } from '../src/index.js';
import { closeDrains, eventJson, makeDrain, waitFor, waitForState } from './helpers.js';

const sockets: Socket[] = [];

/** A UDP socket on 127.0.0.1 collecting the datagrams it receives. */
async function receiveDatagrams(): Promise<{ port: number; datagrams: Buffer[] }> {
  const socket = createSocket('udp4');
  sockets.push(socket);
  const datagrams: Buffer[] = [];
  socket.on('message', (message) => datagrams.push(message));
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  return { port: socket.address().port, datagrams };
}

afterEach(async () => {
  await closeDrains();
  await Promise.all(sockets.splice(0).map((socket) => new Promise<void>((resolve) => socket.close(() => resolve()))));
});

describe('udp drain', () => {
  it('sends one datagram per event, the formatted line as is', async () => {
    const target = await receiveDatagrams();
    const drain = makeDrain('datagrams', `udp://127.0.0.1:${target.port}?format=raw`);
    drain.start();
    await waitForState(drain, 'RUNNING');
    for (let i = 1; i <= 3; i++) drain.push(`systail.app${i}`, eventJson(`message ${i}`));
    await waitFor('3 datagrams', () => target.datagrams.length === 3, undefined, drain);
    const received = target.datagrams.map((datagram) => datagram.toString('utf8'));
    expect(received.every((line) => line.endsWith('}\n'))).toBe(true);
    const parsed = received.map((line) => {
      const space = line.indexOf(' ');
      return [line.slice(0, space), JSON.parse(line.slice(space + 1)).text];
    });
    expect(parsed.sort()).toEqual([
      ['systail.app1', 'message 1'],
      ['systail.app2', 'message 2'],
      ['systail.app3', 'message 3'],
    ]);
    expect(drain.status()).toMatchObject({ state: 'RUNNING', sent: 3 });
  });

  it('truncates an event larger than a datagram, with a marker', async () => {
    const target = await receiveDatagrams();
    const drain = makeDrain('big', `udp://127.0.0.1:${target.port}?format={{text}}`);
    drain.start();
    drain.push('systail.app', eventJson('é'.repeat(40_000))); // 80,000 bytes of UTF-8
    await waitFor('the datagram', () => target.datagrams.length === 1, undefined, drain);
    const datagram = target.datagrams[0];
    expect(datagram.length).toBe(65_507);
    const text = datagram.toString('utf8');
    expect(text.endsWith('…[truncated]\n')).toBe(true);
    expect(text.slice(0, -'…[truncated]\n'.length)).toMatch(/^é+$/); // cut between characters
  });

  it('is RETRYING when the target refuses datagrams (nothing listens on the port)', async () => {
    const target = await receiveDatagrams();
    const socket = sockets.pop();
    await new Promise<void>((resolve) => socket?.close(() => resolve()));
    const retrying: DrainStatus[] = [];
    const drain = makeDrain('nobody', `udp://127.0.0.1:${target.port}`, {
      onStatus: (status) => status.state === 'RETRYING' && retrying.push(status),
    });
    drain.start();
    drain.push('systail.app', eventJson('into the void'));
    // The kernel reports the refusal after the send; the drain then reconnects at once and,
    // with nothing more to send, is RUNNING again until the next refusal.
    await waitFor('a RETRYING status', () => retrying.length > 0, undefined, drain);
    expect(retrying[0].error).toBe(`recvmsg ECONNREFUSED (udp 127.0.0.1:${target.port})`);
  });
});
