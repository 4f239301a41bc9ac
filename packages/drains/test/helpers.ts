import { createServer, type Server, type Socket } from 'node:net';
import { createServer as createTlsServer } from 'node:tls';
import { textEventJson } from '@logyard/bus';
import { afterEach } from 'vitest';
import { Drain, type DrainContext, type DrainStatus } from '../src/index.js';

export const NODE_ID = 'test-node';

/** Drains made by `makeDrain`, closed after each test by `closeDrains`. */
const openDrains: Drain[] = [];

export function makeDrain(name: string, uri: string, ctx: Partial<DrainContext> = {}): Drain {
  const drain = new Drain(name, uri, { nodeId: NODE_ID, formats: {}, fileDrainRoots: [], ...ctx });
  openDrains.push(drain);
  return drain;
}

export async function closeDrains(): Promise<void> {
  await Promise.all(openDrains.splice(0).map((drain) => drain.close()));
}

/**
 * Wraps a maker of targets (servers) so that what it makes is closed after each test, after
 * the drains of makeDrain.
 */
export function closedAfterEach<A extends unknown[], T extends { close(): Promise<void> }>(make: (...args: A) => Promise<T>): (...args: A) => Promise<T> {
  const made: T[] = [];
  afterEach(async () => {
    await closeDrains();
    await Promise.all(made.splice(0).map((target) => target.close()));
  });
  return async (...args) => {
    const target = await make(...args);
    made.push(target);
    return target;
  };
}

export function eventJson(text: string, fields: Record<string, unknown> = {}): string {
  const json = textEventJson(text, NODE_ID);
  return Object.keys(fields).length === 0 ? json : JSON.stringify({ ...JSON.parse(json), ...fields });
}

/** Polls `check` until it holds; fails naming `what` and the last status seen. */
export async function waitFor(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 20_000, drain?: Pick<Drain, 'status'>): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) {
      const status = drain ? ` (status: ${JSON.stringify(drain.status())})` : '';
      throw new Error(`timed out waiting for ${what}${status}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

export async function waitForState(drain: Drain, state: DrainStatus['state'], timeoutMs?: number): Promise<DrainStatus> {
  await waitFor(`state ${state}`, () => drain.status().state === state, timeoutMs, drain);
  return drain.status();
}

/** A TCP listener collecting the newline-delimited lines it receives, from any connection. */
export interface LineServer {
  port: number;
  lines: string[];
  /** Ends every open connection (the listener stays). */
  dropConnections(): void;
  close(): Promise<void>;
}

/** Over TLS with `tls` (a certificate and its key). */
export async function listenForLines(port = 0, tls?: { cert: string; key: string }): Promise<LineServer> {
  const lines: string[] = [];
  const sockets = new Set<Socket>();
  const onSocket = (socket: Socket): void => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    let pending = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      pending += chunk;
      const parts = pending.split('\n');
      pending = parts.pop() ?? '';
      lines.push(...parts);
    });
  };
  const server: Server = tls ? createTlsServer(tls, onSocket) : createServer(onSocket);
  server.on('tlsClientError', () => undefined); // handshakes the drain refuses, in TLS tests
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', resolve);
  });
  const address = server.address();
  return {
    port: typeof address === 'object' && address ? address.port : 0,
    lines,
    dropConnections: () => sockets.forEach((socket) => socket.destroy()),
    close: () =>
      new Promise<void>((resolve) => {
        sockets.forEach((socket) => socket.destroy());
        server.close(() => resolve());
      }),
  };
}

/** A TCP port on 127.0.0.1 that nothing listens on (just released by the kernel). */
export async function unusedPort(): Promise<number> {
  const server = await listenForLines();
  await server.close();
  return server.port;
}

/**
 * Listens on 127.0.0.1 (a free port) with a raw TCP server whose connections `sockets` collects;
 * close() ends them and the server.
 */
export async function listenRaw(server: Server, sockets: Iterable<Socket>): Promise<{ port: number; close(): Promise<void> }> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  return {
    port: typeof address === 'object' && address ? address.port : 0,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

/** A TCP target that accepts connections and never reads them: a drain's sends to it hang. */
export async function listenStalled(): Promise<{ port: number; close(): Promise<void> }> {
  const sockets: Socket[] = [];
  const server = createServer((socket) => {
    socket.pause();
    socket.on('error', () => undefined);
    sockets.push(socket);
  });
  return listenRaw(server, sockets);
}

/**
 * Pushes `count` events of about 4 KB to a RUNNING drain whose target does not read, and waits
 * until the kernel's buffers are full: a send hangs in flight and the counts stop moving.
 */
export async function fillUntilStalled(drain: Pick<Drain, 'push' | 'status'>, count = 5000): Promise<void> {
  const big = 'x'.repeat(4000);
  for (let i = 0; i < count; i++) drain.push('systail.app', eventJson(`${i} ${big}`));
  let last = '';
  await waitFor('the target to stall the drain', async () => {
    const { sent, buffered } = drain.status();
    const now = `${sent} ${buffered}`;
    const stalled = sent > 0 && sent + buffered < count && now === last;
    last = now;
    await new Promise((resolve) => setTimeout(resolve, 200));
    return stalled;
  }, undefined, drain);
}
