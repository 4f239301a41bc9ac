import type { DrainSpec } from './uri.js';

/**
 * What a drain hands to its transport: formatted lines (each ending in '\n'), their keys and
 * the event JSON each line was made from (syslog builds its header from the event's fields).
 */
export interface OutBatch {
  keys: string[];
  lines: string[];
  jsons: string[];
}

/**
 * A connection to a drain's target. The drain calls `send` one batch at a time and awaits it,
 * which is the backpressure: a slow target slows only its own drain.
 * `send` settles (rejects) when the connection breaks while the batch is in flight.
 */
export interface Transport {
  send(batch: OutBatch): Promise<void>;
  /** Idempotent. */
  close(): Promise<void>;
  /** One listener, told at most once when the connection breaks between sends. */
  onBroken(cb: (err: Error) => void): void;
  /**
   * The most events the target takes in one send (http: `batch` per POST); the drain's own
   * limit applies when unset. A drop notice may ride along beyond it.
   */
  readonly maxBatchEvents?: number;
}

export interface TransportContext {
  fileDrainRoots: string[];
  /**
   * True when this drain has been connected before: actions meant for the drain's start
   * (the truncation of `overwrite=true`) must not be repeated on a reconnect.
   */
  reconnect: boolean;
}

/** Connects (or opens) the target; rejects with the reason it cannot. */
export type TransportFactory = (spec: DrainSpec, ctx: TransportContext) => Promise<Transport>;

/**
 * Remembers the first error that broke a connection and tells the listener, even when the
 * listener registers after the fact.
 */
export class BrokenSignal {
  private listener: ((err: Error) => void) | null = null;
  private firstError: Error | null = null;

  get error(): Error | null {
    return this.firstError;
  }

  fire(err: Error): void {
    if (this.firstError) return;
    this.firstError = err;
    this.listener?.(err);
  }

  listen(cb: (err: Error) => void): void {
    this.listener = cb;
    if (this.firstError) cb(this.firstError);
  }
}
