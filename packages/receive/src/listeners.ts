import { FrameReleaser } from '@logyard/bus';
import { createSocket as createUdpSocket } from 'node:dgram';
import { lookup } from 'node:dns/promises';
import { readFileSync } from 'node:fs';
import { lstat, unlink } from 'node:fs/promises';
import { connect as netConnect, createServer, type Server, type Socket } from 'node:net';
import { constants as osConstants } from 'node:os';
import unixDgram, { type UnixDgramSocket } from 'unix-dgram';
import { ListenError } from './errors.js';
import { FrameDecoder, type FrameDecoderOptions, type FrameSink } from './framing.js';
import { formatHostPort, type ListenUri } from './listen-uri.js';
import { BatchUdpSocket, udpBatchAddon } from './udp-batch.js';

/** What a listener hands its messages to. */
export interface ListenerHandlers {
  /**
   * One datagram (udp, unixgram): buf[start, end). `buf` may hold other datagrams of the same
   * read around it (udp reads them in batches); what is kept past the call must be copied.
   */
  datagram(buf: Buffer, start: number, end: number): void;
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

export interface ListenerOptions {
  /**
   * The receive buffer each udp listener asks of the kernel (receive.udp_buffer): bursts wait
   * there while the receiver is busy. Linux caps it at net.core.rmem_max (docs/receive.md, UDP
   * receive buffer).
   */
  udpBuffer: number;
  /** How udp is read: `batch` (the udp_batch addon, recvmmsg) when it is built, else `dgram` (node:dgram). */
  udpReader?: 'batch' | 'dgram';
}

export async function openListener(uri: ListenUri, handlers: ListenerHandlers, options: ListenerOptions): Promise<Listener> {
  switch (uri.scheme) {
    case 'udp':
      return openUdp(uri, handlers, options);
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

/** A bound udp socket, read by the udp_batch addon or by node:dgram. */
interface UdpReader {
  /** The address bound (a host name looked up) and port (the system's choice when 0 was asked). */
  address: string;
  port: number;
  /** SO_RCVBUF as the kernel reports it: twice what it grants. */
  recvBufferSize: number;
  close(): Promise<void>;
}

async function openUdp(uri: { host: string; port: number; uri: string }, handlers: ListenerHandlers, options: ListenerOptions): Promise<Listener> {
  const ipv6 = uri.host.includes(':');
  const { addon, why } = udpBatchAddon();
  const batched = addon !== null && options.udpReader !== 'dgram';
  let reader: UdpReader;
  try {
    reader = batched ? await openBatchUdp(addon, ipv6, uri, handlers, options.udpBuffer) : await openDgramUdp(ipv6, uri, handlers, options.udpBuffer);
  } catch (err) {
    throw listenError(uri.uri, err);
  }
  if (!batched && options.udpReader !== 'dgram') handlers.warn(`${uri.uri}: reading one datagram per system call in the event loop (about four times the CPU, and nothing is read while the loop is busy): the udp_batch addon is not built: ${why}`);
  const capped = udpBufferCapped(reader.recvBufferSize / 2, options.udpBuffer);
  if (capped) handlers.warn(`${uri.uri}: ${capped}`);
  const table = ipv6 ? '/proc/net/udp6' : '/proc/net/udp';
  return {
    address: `udp://${formatHostPort(uri.host, reader.port)}`,
    connections: 0,
    kernelDrops: () => udpKernelDrops(table, reader.address, reader.port),
    close: () => reader.close(),
  };
}

async function openBatchUdp(addon: NonNullable<ReturnType<typeof udpBatchAddon>['addon']>, ipv6: boolean, uri: { host: string; port: number; uri: string }, handlers: ListenerHandlers, udpBuffer: number): Promise<UdpReader> {
  // As dgram does: a host name is looked up; the addon binds an address.
  const { address } = await lookup(uri.host, { family: ipv6 ? 6 : 4 });
  const socket = new BatchUdpSocket(addon, ipv6, address, uri.port, udpBuffer);
  // As much again waits in the reader thread's queue while the event loop is busy (denser than
  // the kernel's: a datagram of 170 bytes takes about 830 of the kernel's buffer).
  socket.start(
    udpBuffer,
    (batch, ends, count) => {
      let start = 0;
      for (let i = 0; i < count; i++) {
        const end = ends[i];
        handlers.datagram(batch, start, end);
        start = end;
      }
    },
    (message) => handlers.warn(`${uri.uri}: ${message}`),
  );
  let closing: Promise<void> | null = null;
  return {
    address,
    port: socket.port,
    recvBufferSize: socket.recvBufferSize,
    close: () => (closing ??= Promise.resolve(socket.close())),
  };
}

function openDgramUdp(ipv6: boolean, uri: { host: string; port: number; uri: string }, handlers: ListenerHandlers, udpBuffer: number): Promise<UdpReader> {
  return new Promise((resolve, reject) => {
    const socket = createUdpSocket({ type: ipv6 ? 'udp6' : 'udp4', recvBufferSize: udpBuffer });
    let listening = false;
    socket.on('error', (err) => {
      if (!listening) {
        socket.close();
        reject(err);
      } else {
        handlers.warn(`${uri.uri}: ${err.message}`);
      }
    });
    socket.on('message', (buf) => handlers.datagram(buf, 0, buf.length));
    socket.bind(uri.port, uri.host, () => {
      listening = true;
      let granted = 0;
      try {
        granted = socket.getRecvBufferSize();
      } catch {
        // not known: no warning
      }
      let closing: Promise<void> | null = null;
      const bound = socket.address();
      resolve({
        address: bound.address,
        port: bound.port,
        recvBufferSize: granted || udpBuffer * 2,
        close: () => (closing ??= new Promise<void>((r) => socket.close(() => r()))),
      });
    });
  });
}

/** Why the socket's receive buffer is smaller than asked, or null. Linux grants at most net.core.rmem_max. */
function udpBufferCapped(granted: number, asked: number): string | null {
  if (granted >= asked) return null;
  const mib = (n: number): string => `${Math.round((n / 2 ** 20) * 10) / 10} MiB`;
  return (
    `the kernel granted a ${mib(granted)} receive buffer, not the ${mib(asked)} asked (receive.udp_buffer), so bursts are dropped sooner ` +
    `(counted as kernelDrops); raise net.core.rmem_max: sysctl -w net.core.rmem_max=${asked}`
  );
}

/**
 * The chunks stream sockets read (a 64 KiB external buffer each): let go of by a minor collection
 * every 8 MiB read (see FrameReleaser). In the syslog benchmark: 0-1 full collections in either
 * process with 8 MiB, and a quarter of the minor ones of 2 MiB (22 against 87 per million lines);
 * with 16 MiB `logyard receive` did 5 full collections.
 */
const READ_RELEASE_BYTES = 8 * 1024 * 1024;
const readChunks = new FrameReleaser(READ_RELEASE_BYTES);

function openStream(uri: ListenUri, handlers: ListenerHandlers, where: { host: string; port: number } | { path: string }): Promise<Listener> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    const decoder = new FrameDecoder(handlers.frames(), handlers.framing);
    socket.on('data', (chunk: Buffer) => {
      decoder.push(chunk);
      readChunks.received(chunk.length);
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
    socket.on('message', (buf: Buffer) => handlers.datagram(buf, 0, buf.length));
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
