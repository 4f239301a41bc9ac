/**
 * The udp_batch addon (native/udp_batch.c): a UDP socket read by a thread of its own with
 * recvmmsg(2), up to 64 datagrams a system call, queued and handed over one callback per batch.
 * Node's dgram spends a system call, a Buffer and a callback on every datagram (3.8 CPU s per
 * million datagrams before any work, against 0.94 with recvmmsg: 1,000,000 datagrams of 166
 * bytes at 250,000/s, load 8), and reads only while the event loop is free. Up to 1,024
 * datagrams come in one callback.
 */
import { createRequire } from 'node:module';

/** Datagram i of a batch is batch[ends[i - 1] (0 for the first), ends[i]). */
export type BatchHandler = (batch: Buffer, ends: Uint32Array, count: number) => void;

interface Addon {
  open(ipv6: boolean, address: string, port: number, recvBufferSize: number): object;
  info(handle: object): [port: number, grantedRecvBufferSize: number];
  start(handle: object, queueBytes: number, ends: Uint32Array, callback: (error: string | null, batch: Buffer | null, count: number) => void): void;
  close(handle: object): void;
}

/** Datagrams handed over in one callback, at most (TURN_DATAGRAMS in udp_batch.c). */
const MAX_BATCH = 1024;

let loaded: { addon: Addon | null; why: string } | null = null;

/** The addon, or null with why (not built: no compiler at install, or not Linux); udp listeners then use node:dgram. */
export function udpBatchAddon(): { addon: Addon | null; why: string } {
  if (loaded === null) {
    try {
      loaded = { addon: createRequire(import.meta.url)('../build/Release/udp_batch.node') as Addon, why: '' };
    } catch (err) {
      loaded = { addon: null, why: (err as Error).message.split('\n')[0] };
    }
  }
  return loaded;
}

export class BatchUdpSocket {
  private readonly handle: object;
  private closed = false;
  readonly port: number;
  /** What the kernel reports for SO_RCVBUF: twice what it grants (the other half is its bookkeeping). */
  readonly recvBufferSize: number;

  /** Binds `address` (an IP address) and `port`; throws an Error with `code` (EADDRINUSE, EACCES...). */
  constructor(
    private readonly addon: Addon,
    ipv6: boolean,
    address: string,
    port: number,
    recvBufferSize: number,
  ) {
    this.handle = addon.open(ipv6, address, port, recvBufferSize);
    [this.port, this.recvBufferSize] = addon.info(this.handle);
  }

  /**
   * Starts reading: `onBatch` for each batch read, `onError` for a read error (the socket keeps
   * reading). While more than `queueBytes` of datagrams wait for the event loop, the thread stops
   * reading and the kernel's buffer fills (its drops are counted in /proc/net/udp).
   */
  start(queueBytes: number, onBatch: BatchHandler, onError: (message: string) => void): void {
    const ends = new Uint32Array(MAX_BATCH);
    this.addon.start(this.handle, queueBytes, ends, (error, batch, count) => {
      if (error !== null) onError(error);
      else onBatch(batch!, ends, count);
    });
  }

  /** Stops reading and closes the socket. Safe to call twice. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.addon.close(this.handle);
  }
}
