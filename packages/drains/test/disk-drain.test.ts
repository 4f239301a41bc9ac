import { execFileSync } from 'node:child_process';
import { closeSync, constants, existsSync, mkdirSync, mkdtempSync, openSync, rmSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createServer, type Socket } from 'node:net';
import { checkQueue, type Drain } from '../src/index.js';
import { closeDrains, eventJson, listenForLines, makeDrain, unusedPort, waitFor, waitForState, type LineServer } from './helpers.js';

let dir: string;
const servers: LineServer[] = [];
const mounts: string[] = [];

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'logyard-disk-drain-'));
});

afterEach(async () => {
  await closeDrains();
  await Promise.all(servers.splice(0).map((server) => server.close()));
  for (const mount of mounts.splice(0)) execFileSync('umount', [mount]);
  rmSync(dir, { recursive: true, force: true });
});

function diskDrain(name: string, port: number, query: string, buffersDir = join(dir, 'buffers')): Drain {
  return makeDrain(name, `tcp://127.0.0.1:${port}?format={{text}}&${query}`, { buffersDir, diskSync: 100 });
}

/** Pushes as the core does: a batch of events at a time, then a turn of the event loop. */
async function pushInBatches(drain: Drain, from: number, count: number, batch = 1000): Promise<void> {
  for (let i = from; i < from + count; i++) {
    drain.push('systail.app', eventJson(`event ${i}`));
    if ((i + 1) % batch === 0) await new Promise((resolve) => setImmediate(resolve));
  }
}

const texts = (from: number, count: number): string[] => Array.from({ length: count }, (_, i) => `event ${from + i}`);

describe('drain with disk', () => {
  it('keeps what a down target misses on disk across a stop, then delivers every event once, in order', async () => {
    const port = await unusedPort();
    let drain = diskDrain('durable', port, 'disk=16MiB&buffer=1000');
    drain.start();
    await waitForState(drain, 'RETRYING');
    await pushInBatches(drain, 0, 20_000);
    await waitFor('spilled', () => (drain.status().disk_events ?? 0) >= 19_000, undefined, drain);
    expect(drain.status()).toMatchObject({ buffered: 20_000, dropped: { buffer_full: 0, disk_full: 0, corrupt: 0 } });
    expect(drain.status().disk_bytes).toBeGreaterThan(0);
    await drain.close(); // as the core does on SIGTERM: memory goes to disk

    // Its URI changed meanwhile (a bigger disk): the queue is the name's, so it is kept.
    drain = diskDrain('durable', port, 'disk=32MiB&buffer=1000');
    for (let i = 20_000; i < 20_500; i++) drain.push('systail.app', eventJson(`event ${i}`)); // newer: after the queue
    await waitFor('the queue counted', () => drain.status().buffered === 20_500, undefined, drain);
    const server = await listenForLines(port);
    servers.push(server);
    drain.start();
    await waitFor('every event', () => server.lines.length >= 20_500, 30_000, drain);
    expect(server.lines).toEqual(texts(0, 20_500));
    expect(drain.status()).toMatchObject({ state: 'RUNNING', sent: 20_500, buffered: 0, disk_events: 0 });
  });

  it('a full filesystem: the drain goes on in memory with "disk: ENOSPC" in its status, then back on disk once there is room', async () => {
    const small = join(dir, 'small');
    mkdirSync(small);
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=256k', 'tmpfs', small]);
    mounts.push(small);
    const port = await unusedPort();
    const drain = diskDrain('cramped', port, 'disk=16MiB&buffer=50000', small);
    const plain = makeDrain('plain', `tcp://127.0.0.1:${port}?format={{text}}&buffer=1000000`);
    drain.start();
    plain.start();
    await waitForState(drain, 'RETRYING');
    let next = 0;
    await waitFor('disk: ENOSPC', () => {
      for (let i = 0; i < 500; i++, next++) {
        drain.push('systail.app', eventJson(`event ${next}`));
        plain.push('systail.app', eventJson(`event ${next}`));
      }
      return drain.status().error?.startsWith('disk: ENOSPC') ?? false;
    }, 20_000, drain);
    expect(drain.status().state).toBe('RETRYING');
    expect(drain.status().error).toMatch(/^disk: ENOSPC.*; connect ECONNREFUSED/);
    expect(drain.status().buffered).toBe(next);
    expect(plain.status()).toMatchObject({ buffered: next, dropped: { buffer_full: 0 } });

    execFileSync('mount', ['-o', 'remount,size=64m', small]);
    await waitFor('back on disk', () => {
      drain.push('systail.app', eventJson(`event ${next}`));
      plain.push('systail.app', eventJson(`event ${next++}`));
      return !drain.status().error?.startsWith('disk:');
    }, 20_000, drain);
    const server = await listenForLines(port);
    servers.push(server);
    await waitFor('every event of both', () => server.lines.length >= 2 * next, 30_000, drain);
    // Both drains write to the same target: every line twice, nothing else.
    expect(new Set(server.lines)).toEqual(new Set(texts(0, next)));
    expect(drain.status()).toMatchObject({ sent: next, dropped: { buffer_full: 0, disk_full: 0 } });
    expect(plain.status()).toMatchObject({ sent: next });
  });

  it('a read-only state_dir: the drain runs in memory with "disk: EROFS", and goes to disk once it is writable', async () => {
    const readOnly = join(dir, 'ro');
    mkdirSync(readOnly);
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=4m,ro', 'tmpfs', readOnly]);
    mounts.push(readOnly);
    const port = await unusedPort();
    const drain = diskDrain('readonly', port, 'disk=16MiB&buffer=10000', readOnly);
    drain.start();
    await waitFor('disk: EROFS', () => /^disk: EROFS/.test(drain.status().error ?? ''), undefined, drain);
    await pushInBatches(drain, 0, 2_000);
    expect(drain.status()).toMatchObject({ buffered: 2_000, disk_events: 0 });
    expect(['RETRYING', 'STARTING', 'RUNNING']).toContain(drain.status().state);

    execFileSync('mount', ['-o', 'remount,rw', readOnly]);
    let next = 2_000;
    await waitFor('back on disk', () => {
      drain.push('systail.app', eventJson(`event ${next++}`));
      return !/disk:/.test(drain.status().error ?? '') && (drain.status().disk_events ?? 0) >= 2_000;
    }, 20_000, drain);
    await waitFor('all on disk', () => drain.status().disk_events === next, undefined, drain);
    const server = await listenForLines(port);
    servers.push(server);
    await waitFor('every event', () => server.lines.length >= next, 30_000, drain);
    expect(server.lines).toEqual(texts(0, next));
  });

  it('a send that hangs on a target that stopped reading: its batch is on disk too within disk_sync (a kill -9 would lose it)', async () => {
    const sockets: Socket[] = [];
    const server = createServer((socket) => {
      sockets.push(socket);
      socket.on('error', () => {});
      socket.pause(); // reads nothing: the kernel's buffers fill, then a send hangs
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as { port: number }).port;
    servers.push({ port, lines: [], close: () => new Promise<void>((resolve) => { for (const s of sockets) s.destroy(); server.close(() => resolve()); }) } as unknown as LineServer);
    // A buffer far above what is pushed: batches go straight from memory, none through disk.
    const drain = diskDrain('stalled', port, 'disk=256MiB&buffer=1000000');
    drain.start();
    await waitForState(drain, 'RUNNING');
    const total = 120_000;
    const pad = 'p'.repeat(600);
    for (let i = 0; i < total; i++) {
      drain.push('systail.app', eventJson(`event ${i} ${pad}`));
      if ((i + 1) % 1000 === 0) await new Promise((resolve) => setImmediate(resolve));
    }
    let lastSent = -1;
    await waitFor('a send hanging', async () => {
      const { sent } = drain.status();
      const stuck = sent === lastSent && sent < total;
      lastSent = sent;
      if (!stuck) await new Promise((resolve) => setTimeout(resolve, 300));
      return stuck;
    }, 30_000, drain);
    // Every event not sent is in the queue's files, the hanging batch included.
    await waitFor('the rest on disk', async () => (await checkQueue(join(dir, 'buffers', 'stalled'), true)).events + drain.status().sent === total, 10_000, drain);

    // The target reads again: the hanging send completes, its copy leaves the queue, nothing twice.
    const lines: string[] = [];
    for (const socket of sockets) {
      let rest = '';
      socket.setEncoding('utf8').on('data', (chunk: string) => {
        rest += chunk;
        for (let nl = rest.indexOf('\n'); nl >= 0; nl = rest.indexOf('\n')) {
          lines.push(rest.slice(0, nl));
          rest = rest.slice(nl + 1);
        }
      });
      socket.resume();
    }
    await waitFor('every event', () => lines.length >= total && drain.status().buffered === 0, 60_000, drain);
    expect(lines).toEqual(texts(0, total).map((text) => `${text} ${pad}`));
    expect(drain.status()).toMatchObject({ sent: total, disk_events: 0 });
  });

  it('a disk that falls behind: the oldest events waiting for it are dropped as buffer_full, told in their place, the rest kept in order', async () => {
    const port = await unusedPort();
    const drain = diskDrain('lagging', port, 'disk=256MiB&buffer=1000');
    drain.start();
    await waitForState(drain, 'RETRYING');
    await pushInBatches(drain, 0, 600); // past half the buffer: through disk from here
    await waitFor('the first on disk', () => drain.status().disk_events === 600, undefined, drain);
    // The disk "stops": every thread of libuv's pool (which runs file writes) blocks opening a
    // FIFO that no one writes to yet. Then 60,000 events of ~1 KB, twice the 32 MiB that may wait.
    const threads = Number(process.env.UV_THREADPOOL_SIZE ?? 4);
    const fifos = Array.from({ length: threads }, (_, i) => join(dir, `stall-${i}`));
    for (const fifo of fifos) execFileSync('mkfifo', [fifo]);
    const stalls = fifos.map((fifo) => open(fifo, 'r').then((handle) => handle.close()));
    const pad = 'p'.repeat(1000);
    const total = 60_600;
    for (let i = 600; i < total; i++) {
      drain.push('systail.app', eventJson(`event ${i} ${pad}`));
      if ((i + 1) % 1000 === 0) await new Promise((resolve) => setImmediate(resolve));
    }
    const { dropped } = drain.status();
    expect(dropped.buffer_full).toBeGreaterThan(0);
    // The disk goes on: a writer for each FIFO (non-blocking, once its reader waits on it: ENXIO before).
    for (const fifo of fifos) {
      for (;;) {
        try {
          closeSync(openSync(fifo, constants.O_WRONLY | constants.O_NONBLOCK));
          break;
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'ENXIO') throw err;
          await new Promise((resolve) => setTimeout(resolve, 10));
        }
      }
    }
    await Promise.all(stalls);
    await waitFor('the rest on disk', () => drain.status().disk_events === total - dropped.buffer_full + 1, 30_000, drain);

    const server = await listenForLines(port);
    servers.push(server);
    await waitFor('every kept event', () => server.lines.length === total - dropped.buffer_full + 1, 60_000, drain);
    const at = server.lines.findIndex((line) => line.startsWith('logyard: '));
    expect(server.lines[at]).toMatch(new RegExp(`^logyard: dropped ${dropped.buffer_full} events for drain lagging since .* \\(buffer full\\)$`));
    // Before the notice the oldest events, after it those after the gap: each once, in order.
    const text = (line: string): string => line.replace(` ${pad}`, '');
    expect(server.lines.slice(0, at).map(text)).toEqual(texts(0, at));
    expect(server.lines.slice(at + 1).map(text)).toEqual(texts(at + dropped.buffer_full, total - at - dropped.buffer_full));
    expect(drain.status().dropped.buffer_full).toBe(dropped.buffer_full);
  });

  it('an event waits in memory no longer than disk_sync while the target is down (a kill -9 would lose it)', async () => {
    const port = await unusedPort();
    const drain = diskDrain('prompt', port, 'disk=16MiB&buffer=10000');
    drain.start();
    await waitForState(drain, 'RETRYING');
    for (let i = 0; i < 100; i++) drain.push('systail.app', eventJson(`event ${i}`)); // far below buffer/2
    await waitFor('on disk', () => drain.status().disk_events === 100, undefined, drain);
    expect(drain.status().buffered).toBe(100);
  });

  it('disk taken out of the URI: what the queue held is counted as uri_changed and told, and the queue goes', async () => {
    const port = await unusedPort();
    const durable = diskDrain('changing', port, 'disk=16MiB&buffer=10');
    durable.start();
    for (let i = 0; i < 100; i++) durable.push('systail.app', eventJson(`event ${i}`));
    await durable.close();
    const server = await listenForLines(port);
    servers.push(server);
    const plain = makeDrain('changing', `tcp://127.0.0.1:${port}?format={{text}}`, { buffersDir: join(dir, 'buffers') });
    plain.start();
    plain.push('systail.app', eventJson('after'));
    await waitFor('the notice and the new event', () => server.lines.length >= 2, undefined, plain);
    expect(server.lines[0]).toMatch(/^logyard: dropped 100 events for drain changing since .* \(URI changed\)$/);
    expect(server.lines[1]).toBe('after');
    expect(plain.status().dropped.uri_changed).toBe(100);
    expect(existsSync(join(dir, 'buffers', 'changing'))).toBe(false);
  });

  it('a deleted drain takes its queue with it; a stopped one leaves it', async () => {
    const port = await unusedPort();
    const drain = diskDrain('gone', port, 'disk=16MiB&buffer=10');
    drain.start();
    for (let i = 0; i < 100; i++) drain.push('systail.app', eventJson(`event ${i}`));
    await drain.close();
    expect(existsSync(join(dir, 'buffers', 'gone'))).toBe(true);
    expect(await drain.removeDiskQueue()).toBe(100); // the events it held, for the log line
    expect(existsSync(join(dir, 'buffers', 'gone'))).toBe(false);
  });
});
