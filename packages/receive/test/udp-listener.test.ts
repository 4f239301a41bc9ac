import { spawn } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ListenError } from '../src/errors.js';
import { parseListenUri } from '../src/listen-uri.js';
import { openListener, type ListenerHandlers } from '../src/listeners.js';
import { udpBatchAddon } from '../src/udp-batch.js';

/** Handlers that keep each datagram as a string and every warning. */
function collecting(): { handlers: ListenerHandlers; datagrams: string[]; warnings: string[] } {
  const datagrams: string[] = [];
  const warnings: string[] = [];
  const handlers: ListenerHandlers = {
    datagram: (buf, start, end) => datagrams.push(buf.toString('latin1', start, end)),
    frames: () => ({ frame: () => {}, problem: () => {} }),
    framing: { octetCounting: false, maxFrameBytes: 1 << 20 },
    ready: () => true,
    whenReady: (resume) => resume(),
    warn: (message) => warnings.push(message),
  };
  return { handlers, datagrams, warnings };
}

async function send(port: number, host: string, messages: Buffer[]): Promise<void> {
  const s = createSocket(host.includes(':') ? 'udp6' : 'udp4');
  for (const m of messages) await new Promise<void>((r, j) => s.send(m, port, host, (err) => (err ? j(err) : r())));
  s.close();
}

async function until(probe: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!probe()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('udp listeners', () => {
  it('the udp_batch addon is built (npm ci builds it with node-gyp)', () => {
    expect(udpBatchAddon().why).toBe('');
    expect(udpBatchAddon().addon).not.toBeNull();
  });

  for (const udpReader of ['batch', 'dgram'] as const) {
    it(`${udpReader}: delivers every datagram whole and in order (1 byte to 65,507 bytes, bursts of hundreds), then closes twice and frees the port`, async () => {
      const { handlers, datagrams, warnings } = collecting();
      const listener = await openListener(parseListenUri('udp://127.0.0.1:0'), handlers, { udpBuffer: 1 << 20, udpReader });
      const port = Number(/^udp:\/\/127\.0\.0\.1:(\d+)$/.exec(listener.address)![1]);
      expect(port).toBeGreaterThan(0);
      const messages = [Buffer.from('x'), Buffer.alloc(65_507, 'b'), ...Array.from({ length: 500 }, (_, i) => Buffer.from(`{"name":"n","text":"datagram ${i}"}`)), Buffer.from('last')];
      await send(port, '127.0.0.1', messages);
      await until(() => datagrams.length === messages.length, `${messages.length} datagrams (got ${datagrams.length})`);
      expect(datagrams).toEqual(messages.map((m) => m.toString('latin1')));
      expect(listener.kernelDrops()).toBe(0);
      expect(warnings).toEqual([]);
      await listener.close();
      await listener.close();
      const again = await openListener(parseListenUri(`udp://127.0.0.1:${port}`), handlers, { udpBuffer: 1 << 20, udpReader });
      await again.close();
    });

    it(`${udpReader}: while the event loop is blocked, every datagram a real sender sends is delivered afterwards or counted in kernelDrops`, async () => {
      const { handlers, datagrams } = collecting();
      // 64 KiB: the kernel holds about 160 small datagrams, the reader thread's queue a few hundred more.
      const listener = await openListener(parseListenUri('udp://127.0.0.1:0'), handlers, { udpBuffer: 64 * 1024, udpReader });
      const port = Number(/:(\d+)$/.exec(listener.address)![1]);
      const dir = mkdtempSync(join(tmpdir(), 'ly-udp-'));
      const done = join(dir, 'sent');
      const sent = 5000;
      try {
        const sender = spawn('python3', ['-c', [
          'import socket, sys',
          's = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)',
          `for i in range(${sent}): s.sendto(b'{"name":"n","text":"%d"}' % i, ('127.0.0.1', ${port}))`,
          `open(${JSON.stringify(done)}, 'w').close()`,
        ].join('\n')], { stdio: 'inherit' });
        // Blocked (as by a long garbage collection) until the sender is done: nothing is read in JavaScript meanwhile.
        const blocked = new Int32Array(new SharedArrayBuffer(4));
        for (const deadline = Date.now() + 20_000; !existsSync(done) && Date.now() < deadline; ) Atomics.wait(blocked, 0, 0, 5);
        expect(existsSync(done)).toBe(true);
        await new Promise((r) => sender.on('close', r));
        await until(() => datagrams.length + listener.kernelDrops() === sent, `${sent} datagrams delivered or counted (got ${datagrams.length} + ${listener.kernelDrops()})`);
        expect(datagrams.length).toBeGreaterThan(0);
        expect(new Set(datagrams).size).toBe(datagrams.length);
      } finally {
        await listener.close();
        rmSync(dir, { recursive: true, force: true });
      }
    });

    it(`${udpReader}: a port in use is a ListenError naming the URI; a buffer above net.core.rmem_max is a warning with the sysctl`, async () => {
      const { handlers, warnings } = collecting();
      const first = await openListener(parseListenUri('udp://127.0.0.1:0'), handlers, { udpBuffer: 1 << 20, udpReader });
      try {
        const taken = openListener(parseListenUri(first.address), handlers, { udpBuffer: 1 << 20, udpReader });
        await expect(taken).rejects.toThrow(ListenError);
        await expect(taken).rejects.toThrow(`cannot listen on ${first.address}: the address is already in use (EADDRINUSE)`);
      } finally {
        await first.close();
      }
      const huge = await openListener(parseListenUri('udp://localhost:0'), handlers, { udpBuffer: 1024 * 1024 * 1024, udpReader });
      await huge.close();
      expect(warnings).toEqual([expect.stringMatching(/^udp:\/\/localhost:0: the kernel granted a [\d.]+ MiB receive buffer, not the 1024 MiB asked \(receive\.udp_buffer\).*sysctl -w net\.core\.rmem_max=1073741824$/)]);
    });
  }
});
