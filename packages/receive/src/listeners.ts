import { createSocket as createUdpSocket, type Socket as UdpSocket } from 'node:dgram';
import { readFileSync } from 'node:fs';
import { lstat, unlink } from 'node:fs/promises';
import { connect as netConnect, createServer, type Server, type Socket } from 'node:net';
import { constants as osConstants } from 'node:os';
import unixDgram, { type UnixDgramSocket } from 'unix-dgram';
import { ListenError } from './errors.js';
import { FrameDecoder, type FrameDecoderOptions, type FrameSink } from './framing.js';
import { formatHostPort, type ListenUri } from './listen-uri.js';

/** What a listener hands its messages to. */
export interface ListenerHandlers {
  /** One datagram (udp, unixgram). */
  datagram(buf: Buffer): void;
  /** Where the frames of a new stream connection (tcp, unix) go, and how they are cut. */
  frames(): FrameSink;
  framing: FrameDecoderOptions;
  /** False while the publisher is full: stream sockets then stop reading until `whenReady`. */
  ready(): boolean;
  whenReady(resume: () => void): void;
  /** A problem that does not stop the listener (a connection reset, a socket error). */
  warn(message: string): void;
}

export interface Listener {
  /** The URI it listens on, with the port the system chose when 0 was asked. */
  readonly address: string;
  readonly connections: number;
  /** Datagrams the kernel dropped before we read them (receive buffer full); udp only, else 0. */
  kernelDrops(): number;
  /** Stops listening, drops open connections, removes its unix socket file. Safe to call twice. */
  close(): Promise<void>;
}

/**
 * UDP receive buffer asked of the kernel: bursts wait there while the receiver is busy (8 MiB holds
 * about 50,000 datagrams of 170 bytes, a quarter of a second at 200,000/s). Linux caps it at
 * net.core.rmem_max (docs/receive.md, UDP receive buffer).
 */
export const UDP_RECV_BUFFER = 8 * 1024 * 1024;

export async function openListener(uri: ListenUri, handlers: ListenerHandlers): Promise<Listener> {
  switch (uri.scheme) {
    case 'udp':
      return openUdp(uri, handlers);
    case 'tcp':
      return openStream(uri, handlers, { host: uri.host, port: uri.port });
    case 'unix':
      await clearStaleSocket(uri.uri, uri.path, 'stream');
      return openStream(uri, handlers, { path: uri.path });
    case 'unixgram':
      await clearStaleSocket(uri.uri, uri.path, 'dgram');
      return openUnixgram(uri.uri, uri.path, handlers);
  }
}

/** Errors of the address itself: the user has to change the config (exit 2). */
const ADDRESS_ERRORS = new Set(['EADDRNOTAVAIL', 'ENOTFOUND', 'EAI_AGAIN', 'EAI_NONAME', 'ENOENT', 'ENOTDIR', 'EINVAL', 'ENAMETOOLONG']);

function listenError(uri: string, err: unknown): ListenError {
  const code = errnoName(err);
  const why =
    code === 'EADDRINUSE' ? 'the address is already in use'
    : code === 'EACCES' ? 'permission denied'
    : code === 'EADDRNOTAVAIL' ? 'the address is not one of this machine'
    : code === 'ENOENT' ? 'the directory does not exist'
    : ((err as Error)?.message ?? String(err));
  return new ListenError(`cannot listen on ${uri}: ${why}${code ? ` (${code})` : ''}`, code !== undefined && ADDRESS_ERRORS.has(code), { cause: err });
}

/** Node errors carry a name in `code`; unix-dgram's carry a negative errno. */
function errnoName(err: unknown): string | undefined {
  const code = (err as NodeJS.ErrnoException | undefined)?.code as unknown;
  if (typeof code === 'string') return code;
  if (typeof code === 'number') {
    const found = Object.entries(osConstants.errno).find(([, n]) => n === -code);
    return found?.[0];
  }
  return undefined;
}

function openUdp(uri: { host: string; port: number; uri: string }, handlers: ListenerHandlers): Promise<Listener> {
  return new Promise((resolve, reject) => {
    let socket: UdpSocket;
    try {
      socket = createUdpSocket({ type: uri.host.includes(':') ? 'udp6' : 'udp4', recvBufferSize: UDP_RECV_BUFFER });
    } catch (err) {
      reject(listenError(uri.uri, err));
      return;
    }
    let listening = false;
    socket.on('error', (err) => {
      if (!listening) {
        socket.close();
        reject(listenError(uri.uri, err));
      } else {
        handlers.warn(`${uri.uri}: ${err.message}`);
      }
    });
    socket.on('message', (buf) => handlers.datagram(buf));
    socket.bind(uri.port, uri.host, () => {
      listening = true;
      const bound = socket.address();
      const capped = udpBufferCapped(socket);
      if (capped) handlers.warn(`${uri.uri}: ${capped}`);
      let closing: Promise<void> | null = null;
      resolve({
        address: `udp://${formatHostPort(uri.host, bound.port)}`,
        connections: 0,
        kernelDrops: () => udpKernelDrops(bound.family === 'IPv6' ? '/proc/net/udp6' : '/proc/net/udp', bound.address, bound.port),
        close: () => (closing ??= new Promise<void>((r) => socket.close(() => r()))),
      });
    });
  });
}

/**
 * Why the socket's receive buffer is smaller than asked, or null. Linux reports twice what it
 * grants (the other half is its bookkeeping) and grants at most net.core.rmem_max.
 */
function udpBufferCapped(socket: UdpSocket): string | null {
  let granted: number;
  try {
    granted = socket.getRecvBufferSize() / 2;
  } catch {
    return null;
  }
  if (granted >= UDP_RECV_BUFFER) return null;
  const mib = (n: number): string => `${Math.round((n / 2 ** 20) * 10) / 10} MiB`;
  return (
    `the kernel granted a ${mib(granted)} receive buffer, not the ${mib(UDP_RECV_BUFFER)} asked, so bursts are dropped sooner ` +
    `(counted as kernelDrops); raise net.core.rmem_max: sysctl -w net.core.rmem_max=${UDP_RECV_BUFFER}`
  );
}

function openStream(uri: ListenUri, handlers: ListenerHandlers, where: { host: string; port: number } | { path: string }): Promise<Listener> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    const decoder = new FrameDecoder(handlers.frames(), handlers.framing);
    socket.on('data', (chunk: Buffer) => {
      decoder.push(chunk);
      if (!handlers.ready() && !socket.isPaused()) {
        // Back pressure to the sender (its TCP window closes) instead of dropping: the core is slow.
        socket.pause();
        handlers.whenReady(() => {
          if (!socket.destroyed) socket.resume();
        });
      }
    });
    socket.on('end', () => decoder.end());
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', (err: NodeJS.ErrnoException) => {
      // A sender that goes away mid-line is its own business; anything else is worth a line.
      if (err.code !== 'ECONNRESET' && err.code !== 'EPIPE') handlers.warn(`${uri.uri}: connection error: ${err.message}`);
    });
  });
  return new Promise((resolve, reject) => {
    server.once('error', (err) => reject(listenError(uri.uri, err)));
    server.listen(where, () => {
      server.on('error', (err) => handlers.warn(`${uri.uri}: ${err.message}`));
      const addr = server.address();
      const address = 'path' in where ? uri.uri : `tcp://${formatHostPort((where as { host: string }).host, typeof addr === 'object' && addr ? addr.port : 0)}`;
      let closing: Promise<void> | null = null;
      resolve({
        address,
        kernelDrops: () => 0,
        get connections() {
          return sockets.size;
        },
        close: () =>
          (closing ??= new Promise<void>((r) => {
            server.close(() => r());
            for (const s of sockets) s.destroy();
          })),
      });
    });
  });
}

function openUnixgram(uri: string, path: string, handlers: ListenerHandlers): Promise<Listener> {
  return new Promise((resolve, reject) => {
    let socket: UnixDgramSocket;
    try {
      socket = unixDgram.createSocket('unix_dgram');
    } catch (err) {
      reject(listenError(uri, err));
      return;
    }
    let listening = false;
    socket.on('error', (err: Error) => {
      if (!listening) {
        closeQuietly(socket);
        reject(listenError(uri, err));
      } else {
        handlers.warn(`${uri}: ${err.message}`);
      }
    });
    socket.on('message', (buf: Buffer) => handlers.datagram(buf));
    socket.on('listening', () => {
      listening = true;
      let closing: Promise<void> | null = null;
      resolve({
        address: uri,
        connections: 0,
        kernelDrops: () => 0,
        close: () =>
          (closing ??= (async () => {
            closeQuietly(socket);
            await unlink(path).catch(() => {});
          })()),
      });
    });
    // unix-dgram reports the bind synchronously, through the handlers above.
    socket.bind(path);
  });
}

function closeQuietly(socket: UnixDgramSocket): void {
  try {
    socket.close();
  } catch {
    // already closed
  }
}

/**
 * A socket file left by a receiver that died would make bind fail. It is removed only when
 * nobody answers on it; a live socket is "in use", and a file that is not a socket is refused.
 */
async function clearStaleSocket(uri: string, path: string, kind: 'stream' | 'dgram'): Promise<void> {
  let isSocket: boolean;
  try {
    isSocket = (await lstat(path)).isSocket();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw listenError(uri, err);
  }
  if (!isSocket) throw new ListenError(`cannot listen on ${uri}: ${path} exists and is not a socket`, true);
  const refused = kind === 'stream' ? await streamRefused(path) : dgramRefused(path);
  if (!refused) throw new ListenError(`cannot listen on ${uri}: the socket is in use by another process (EADDRINUSE)`, false);
  await unlink(path).catch((err: unknown) => {
    throw listenError(uri, err);
  });
}

function streamRefused(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = netConnect({ path });
    probe.once('connect', () => {
      probe.destroy();
      resolve(false);
    });
    probe.once('error', (err: NodeJS.ErrnoException) => resolve(err.code === 'ECONNREFUSED'));
  });
}

function dgramRefused(path: string): boolean {
  const probe = unixDgram.createSocket('unix_dgram');
  let refused = false;
  probe.on('error', (err: Error) => {
    refused = errnoName(err) === 'ECONNREFUSED';
  });
  probe.connect(path);
  closeQuietly(probe);
  return refused;
}

/**
 * The kernel's count of datagrams dropped on our UDP socket (the last column of /proc/net/udp),
 * so that drops before Logyard reads anything are counted too. 0 where /proc is not Linux's.
 */
function udpKernelDrops(table: string, address: string, port: number): number {
  let text: string;
  try {
    text = readFileSync(table, 'utf8');
  } catch {
    return 0;
  }
  const portHex = port.toString(16).toUpperCase().padStart(4, '0');
  // IPv4 addresses are printed as one little-endian word: 127.0.0.1 is 0100007F.
  const v4 = /^\d+\.\d+\.\d+\.\d+$/.test(address)
    ? address.split('.').reverse().map((b) => Number(b).toString(16).toUpperCase().padStart(2, '0')).join('')
    : null;
  let drops = 0;
  for (const line of text.split('\n')) {
    const cols = line.trim().split(/\s+/);
    const local = cols[1];
    if (!local || !local.endsWith(`:${portHex}`)) continue;
    if (v4 !== null && local !== `${v4}:${portHex}`) continue;
    drops += Number(cols[cols.length - 1]) || 0;
  }
  return drops;
}
