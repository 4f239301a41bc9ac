import { connect, type Socket } from 'node:net';
import { BrokenSignal, type OutBatch, type Transport, type TransportFactory } from '../transport.js';
import type { SchemeSyntax } from '../uri.js';

export const TCP_SYNTAX: SchemeSyntax = { target: 'network', params: {} };

const CONNECT_TIMEOUT_MS = 10_000;
/** How long close() waits for the last bytes to reach the kernel before cutting the socket. */
const CLOSE_FLUSH_MS = 2_000;

/** Newline-delimited lines over one TCP connection. */
export const connectTcp: TransportFactory = async (spec) => {
  const target = `${spec.host}:${spec.port}`;
  const socket = await openSocket(() => connect({ host: spec.host ?? '', port: spec.port ?? 0 }), 'connect', target);
  return new StreamTransport(socket, target);
};

/**
 * Waits until the socket `open` makes is ready (`connect`, or `secureConnect` for TLS), or
 * rejects with its error or a timeout.
 */
export function openSocket<S extends Socket>(open: () => S, readyEvent: 'connect' | 'secureConnect', target: string): Promise<S> {
  return new Promise((resolve, reject) => {
    const socket = open();
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`connect timeout after ${CONNECT_TIMEOUT_MS / 1000} s to ${target}`));
    }, CONNECT_TIMEOUT_MS);
    socket.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    socket.once(readyEvent, () => {
      clearTimeout(timer);
      socket.removeAllListeners('error');
      resolve(socket);
    });
  });
}

/** Lines written as they are to one stream connection (TCP, or TLS: a TLSSocket is a Socket). */
export class StreamTransport implements Transport {
  private readonly broken = new BrokenSignal();
  /** Rejects the send in flight; set while one is. */
  private rejectInFlight: ((err: Error) => void) | null = null;
  private closing: Promise<void> | null = null;

  constructor(
    private readonly socket: Socket,
    private readonly target: string,
  ) {
    socket.setKeepAlive(true, 30_000);
    // Targets may talk back; reading (and discarding) is what lets us see their FIN.
    socket.resume();
    socket.on('error', (err) => this.fail(err));
    socket.on('close', () => this.fail(new Error(`connection to ${target} closed`)));
  }

  send(batch: OutBatch): Promise<void> {
    const broken = this.broken.error;
    if (broken) return Promise.reject(broken);
    return new Promise((resolve, reject) => {
      this.rejectInFlight = reject;
      this.socket.write(batch.lines.join(''), (err) => {
        if (this.rejectInFlight !== reject) return; // fail() got there first
        this.rejectInFlight = null;
        // A destroyed socket calls back without an error although the bytes never left.
        if (err || this.socket.destroyed) reject(err ?? this.broken.error ?? this.closedError());
        else resolve();
      });
    });
  }

  onBroken(cb: (err: Error) => void): void {
    this.broken.listen(cb);
  }

  close(): Promise<void> {
    this.closing ??= new Promise<void>((resolve) => {
      if (this.socket.destroyed) return resolve();
      const timer = setTimeout(resolve, CLOSE_FLUSH_MS);
      this.socket.end(() => {
        clearTimeout(timer);
        resolve();
      });
    }).then(() => {
      this.socket.destroy();
    });
    return this.closing;
  }

  private fail(err: Error): void {
    const reject = this.rejectInFlight;
    this.rejectInFlight = null;
    reject?.(err);
    // Our own close() is not a breakage.
    if (!this.closing) this.broken.fire(err);
  }

  private closedError(): Error {
    return new Error(`connection to ${this.target} closed`);
  }
}
