import type { Formatter } from './formats.js';
import type { ParamCheck } from './params.js';

/**
 * What a scheme is: one descriptor per scheme file, `{ syntax, connect }`, registered by name in
 * schemes/index.ts (a TLS variant such as `syslog+tls` is the same descriptor under another name).
 * This module holds only types, so schemes, the URI parser and the drain all depend on it and on
 * nothing of each other.
 */
export interface Scheme {
  /** How its URIs look: what the parser checks at `drain add` and when a core reads the store. */
  syntax: SchemeSyntax;
  /** Makes the target: connects (or opens) it, or rejects with the reason it cannot. */
  connect: TransportFactory;
  /**
   * Turns the drain's format into what goes out for each event (syslog: an RFC 5424 frame around
   * the formatted line); the format's own line when absent.
   */
  output?: (format: string, formats: Record<string, string>, drainToken?: string) => Formatter;
}

/** How a scheme's URIs look. */
export interface SchemeSyntax {
  /** 'network': `[user:password@]host[:port][/path]`; 'file': `/absolute/path`. */
  target: 'network' | 'file';
  /** Port when the URI gives none; without one the port is required. */
  defaultPort?: number;
  /** Port of the TLS variant (`syslog+tls`, `https`) when the URI gives none; defaultPort when unset. */
  tlsDefaultPort?: number;
  /** Whether `user:password@` means anything to the scheme. */
  takesCredentials?: boolean;
  /** The param a `/N` path stands for (redis: database); other network schemes take no path. */
  pathParam?: string;
  /** Whether a `/path` is the target's own (http: the request path), kept in `spec.path`. */
  takesPath?: boolean;
  /**
   * Whether query params that are not Logyard's own belong to the target (http: ClickHouse's
   * `?query=...`): kept as written in `spec.targetQuery` instead of refused.
   */
  passesUnknownParams?: boolean;
  /** The format when the URI gives none (syslog: the event's text); else json. */
  defaultFormat?: string;
  /** The scheme's own params (TLS variants also take `ca` and `insecure`). */
  params: Record<string, ParamCheck>;
  /** Checks across params once all are read; returns the problem, naming the params. */
  check?: (spec: DrainSpec) => string | undefined;
}

/** A parsed, validated drain URI (docs/drains.md). */
export interface DrainSpec {
  /** The URI as given, password included: redact it (redactUri) before showing it. */
  uri: string;
  scheme: string;
  /** Whether the scheme is the TLS variant (tls, rediss, syslog+tls, https). */
  tls: boolean;
  host?: string;
  port?: number;
  /** file: the absolute path, `..` resolved lexically; http(s): the request path as written (percent-encoded). */
  path?: string;
  /** http(s): the params that are the target's own, as written (percent-encoded, joined by `&`); absent when none. */
  targetQuery?: string;
  user?: string;
  password?: string;
  filters: string[];
  format: string;
  buffer: number;
  /** `disk=SIZE` in bytes (docs/drains.md, disk buffers); absent when the drain keeps its events in memory only. */
  diskBytes?: number;
  /** `rate` (events/s per key) and `burst`: set together (burst defaults to one second's worth), or neither. */
  rate?: number;
  burst?: number;
  /** The scheme's own params, percent-decoded (redis: a `/N` path appears as `database`). */
  params: Record<string, string>;
}

/**
 * What a drain hands to its transport: the output of each event (each ending in '\n' unless the
 * scheme frames it otherwise) and the event's key.
 */
export interface OutBatch {
  keys: string[];
  lines: string[];
}

/**
 * A connection to a drain's target. The drain calls `send` one batch at a time and awaits it,
 * which is the backpressure: a slow target slows only its own drain.
 * `send` settles (rejects) when the connection breaks while the batch is in flight.
 */
export interface Transport {
  send(batch: OutBatch): Promise<void>;
  /**
   * Writes lines given as bytes, as they are (a `json` or `raw` drain's batch, see
   * EventBuffer.takeBytes, or a template's output, see ByteTemplate); all of them or, rejecting,
   * none counted delivered. Optional: the
   * drain formats strings for `send` when a transport has no such method.
   */
  sendBytes?(parts: Buffer[]): Promise<void>;
  /** Idempotent. */
  close(): Promise<void>;
  /**
   * Ends the connection at once, unsent bytes and all: the send in flight fails (its events stay
   * with the drain). For a drain that gives up on a stalled target; without it, close() is used.
   */
  cut?(): void;
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
  /** A tenant drain's token, sent where the scheme has room for it (http: `Logyard-Drain-Token`). */
  drainToken?: string;
}

/** Connects (or opens) the target; rejects with the reason it cannot. */
export type TransportFactory = (spec: DrainSpec, ctx: TransportContext) => Promise<Transport>;
