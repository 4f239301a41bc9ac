import type { Socket } from 'node:dgram';
import { BrokenSignal } from '../broken-signal.js';
import type { OutBatch, Scheme, Transport, TransportFactory } from '../scheme.js';

/** The largest UDP payload over IPv4. */
export const MAX_DATAGRAM_BYTES = 65_507;
export const TRUNCATION_MARKER = '…[truncated]\n';
const MARKER_BYTES = Buffer.from(TRUNCATION_MARKER);
/** Lines this short (in UTF-16 units) fit a datagram even at 3 UTF-8 bytes per unit. */
const SURELY_FITTING_LENGTH = Math.floor(MAX_DATAGRAM_BYTES / 3);

/** One datagram per line, sent on a connected socket (the host is resolved once). */
const connectUdp: TransportFactory = async (spec) => {
  const host = spec.host ?? '';
  const port = spec.port ?? 0;
  // Loaded by the first udp drain: a core without one does not carry them.
  const [{ lookup }, { createSocket }] = await Promise.all([import('node:dns/promises'), import('node:dgram')]);
  const { address, family } = await lookup(host);
  const socket = createSocket(family === 6 ? 'udp6' : 'udp4');
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.connect(port, address, () => {
      socket.off('error', reject);
      resolve();
    });
  }).catch((err: unknown) => {
    socket.close();
    throw err;
  });
  return new UdpTransport(socket, `${host}:${port}`);
};

export const udp: Scheme = { syntax: { target: 'network', params: {} }, connect: connectUdp };

class UdpTransport implements Transport {
  private readonly broken = new BrokenSignal();
  private closing: Promise<void> | null = null;

  constructor(
    private readonly socket: Socket,
    target: string,
  ) {
    // On a connected socket the kernel reports ICMP "port unreachable" here (ECONNREFUSED):
    // the status then tells that nothing listens instead of pretending delivery.
    socket.on('error', (err) => {
      if (!this.closing) this.broken.fire(new Error(`${err.message} (udp ${target})`, { cause: err }));
    });
  }

  send(batch: OutBatch): Promise<void> {
    const broken = this.broken.error;
    if (broken) return Promise.reject(broken);
    const lines = batch.lines;
    if (lines.length === 0) return Promise.resolve();
    return new Promise((resolve, reject) => {
      let pending = lines.length;
      let failed = false;
      const sent = (err: Error | null): void => {
        if (failed) return;
        if (err) {
          failed = true;
          reject(err);
        } else if (--pending === 0) resolve();
      };
      for (const line of lines) this.socket.send(datagram(line), sent);
    });
  }

  onBroken(cb: (err: Error) => void): void {
    this.broken.listen(cb);
  }

  close(): Promise<void> {
    this.closing ??= new Promise((resolve) => this.socket.close(() => resolve()));
    return this.closing;
  }
}

/** The line as is, or cut at a UTF-8 character boundary and marked when it exceeds a datagram. */
function datagram(line: string): string | Buffer {
  if (line.length <= SURELY_FITTING_LENGTH) return line;
  const bytes = Buffer.from(line);
  if (bytes.length <= MAX_DATAGRAM_BYTES) return bytes;
  let end = MAX_DATAGRAM_BYTES - MARKER_BYTES.length;
  while (end > 0 && (bytes[end] & 0xc0) === 0x80) end--; // do not split a character
  return Buffer.concat([bytes.subarray(0, end), MARKER_BYTES]);
}
