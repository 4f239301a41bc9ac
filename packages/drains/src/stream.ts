import { X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { connect as connectTcp, isIP, type Socket } from 'node:net';
import type { ConnectionOptions } from 'node:tls';
import { BrokenSignal } from './broken-signal.js';
import { DrainConfigError } from './errors.js';
import { isAbsolutePath, isBoolean, type ParamCheck } from './params.js';
import type { DrainSpec, OutBatch, Transport, TransportFactory } from './scheme.js';

/**
 * The stream connection every stream scheme shares (tcp, tls, syslog, syslog+tls, and the
 * connection check of http(s)), as Vector's sinks/util does: opening a TCP or verified TLS
 * socket, and writing lines to it with backpressure.
 */

const CONNECT_TIMEOUT_MS = 10_000;
/** How long close() waits for the last bytes to reach the kernel before cutting the socket. */
const CLOSE_FLUSH_MS = 2_000;

/** The params of every scheme over TLS (tls, rediss, syslog+tls, https). */
export const TLS_PARAMS: Record<string, ParamCheck> = { ca: isAbsolutePath, insecure: isBoolean };

/** Refuses `ca` with `insecure=true`: one of them would be silently ignored. */
export function tlsParamsProblem(spec: DrainSpec): string | undefined {
  if (spec.params.ca !== undefined && spec.params.insecure === 'true') {
    return 'params "ca" and "insecure=true" contradict each other (ca verifies, insecure does not)';
  }
  return undefined;
}

/** Lines written as they are to one TCP connection, or a TLS one for a TLS scheme. */
export const connectStream: TransportFactory = async (spec) => {
  const target = hostPort(spec.host ?? '', spec.port ?? 0);
  return new StreamTransport(await openStream(spec, target), target);
};

/**
 * A connection to the spec's host and port: TCP, or TLS verified unless `insecure=true` for a TLS
 * scheme (`tls` gives the options when the caller already has them).
 */
export async function openStream(spec: DrainSpec, target: string, tls?: ConnectionOptions): Promise<Socket> {
  const host = spec.host ?? '';
  const port = spec.port ?? 0;
  if (!spec.tls) return openSocket(() => connectTcp({ host, port }), 'connect', target);
  const options = tls ?? (await tlsOptions(spec));
  // node:tls is loaded by the first TLS drain: a core without one does not carry it.
  const { connect: connectTls } = await import('node:tls');
  try {
    return await openSocket(() => connectTls({ ...options, host, port }), 'secureConnect', target);
  } catch (err) {
    throw explainTlsError(err, target);
  }
}

/** `host:port`, with an IPv6 host in brackets. */
export function hostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

/**
 * Waits until the socket `open` makes is ready (`connect`, or `secureConnect` for TLS), or
 * rejects with its error or a timeout.
 */
function openSocket<S extends Socket>(open: () => S, readyEvent: 'connect' | 'secureConnect', target: string): Promise<S> {
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

/**
 * TLS options of a drain: the server's certificate is checked against `ca` (a PEM file that
 * replaces the system's CAs, as curl's --cacert does) or the system's CAs, and must name the
 * host. `insecure=true` turns the check off, and only then.
 */
export async function tlsOptions(spec: DrainSpec): Promise<ConnectionOptions> {
  const host = spec.host ?? '';
  const options: ConnectionOptions = {
    rejectUnauthorized: spec.params.insecure !== 'true',
    // SNI must not carry an IP address (RFC 6066); the certificate check still uses the host.
    servername: isIP(host) === 0 ? host : undefined,
  };
  if (spec.params.ca !== undefined) options.ca = await readCa(spec.params.ca);
  return options;
}

const PEM_CERTIFICATE_RE = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

/**
 * The CA file's certificates. A missing or broken file is a configuration error (FATAL):
 * node would otherwise ignore a file without certificates and fail every handshake instead.
 */
async function readCa(path: string): Promise<string> {
  let pem: string;
  try {
    pem = await readFile(path, 'utf8');
  } catch (err) {
    throw new DrainConfigError(`cannot read ca file "${path}": ${(err as Error).message}`, { cause: err });
  }
  const certificates = pem.match(PEM_CERTIFICATE_RE) ?? [];
  if (certificates.length === 0) throw new DrainConfigError(`ca file "${path}" holds no PEM certificate`);
  for (const certificate of certificates) {
    try {
      new X509Certificate(certificate);
    } catch (err) {
      throw new DrainConfigError(`ca file "${path}" holds a broken certificate: ${(err as Error).message}`, { cause: err });
    }
  }
  return certificates.join('\n');
}

/** Node's certificate errors say what is wrong but not with whom, nor what to do about it. */
const CERTIFICATE_ERROR_CODES = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

/** Adds the target and a hint to a certificate error; other errors pass as they are. */
export function explainTlsError(err: unknown, target: string): unknown {
  const code = (err as NodeJS.ErrnoException | null)?.code;
  if (typeof code !== 'string' || !CERTIFICATE_ERROR_CODES.has(code)) return err;
  const message = `TLS certificate of ${target} rejected: ${(err as Error).message} (give ca=/path/to/ca.pem to trust its CA, or insecure=true)`;
  return Object.assign(new Error(message, { cause: err }), { code });
}

/** Lines written as they are to one stream connection (TCP, or TLS: a TLSSocket is a Socket). */
class StreamTransport implements Transport {
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
    socket.on('close', () => this.fail(this.closedError()));
  }

  send(batch: OutBatch): Promise<void> {
    return this.write([batch.lines.join('')]);
  }

  sendBytes(parts: Buffer[]): Promise<void> {
    return this.write(parts);
  }

  /** One write per part (corked: they leave together), settled by the last one's callback. */
  private write(parts: Array<string | Buffer>): Promise<void> {
    const broken = this.broken.error;
    if (broken) return Promise.reject(broken);
    return new Promise((resolve, reject) => {
      this.rejectInFlight = reject;
      const last = parts.length - 1;
      if (last > 0) this.socket.cork();
      for (let i = 0; i < last; i++) this.socket.write(parts[i]);
      this.socket.write(parts[last], (err) => {
        if (this.rejectInFlight !== reject) return; // fail() got there first
        this.rejectInFlight = null;
        // A destroyed socket calls back without an error although the bytes never left.
        if (err || this.socket.destroyed) reject(err ?? this.broken.error ?? this.closedError());
        else resolve();
      });
      if (last > 0) this.socket.uncork();
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

  cut(): void {
    this.closing ??= Promise.resolve();
    this.socket.destroy();
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
