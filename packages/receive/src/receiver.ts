import { isUtf8 } from 'node:buffer';
import { Publisher, RateLimiter, READING_POLL_MS, stampedMembersNow, WarningLimit, type EventPublisher, rateLimitNoticeText, type RateLimitReport } from '@logyard/bus';
import type { LogyardConfig } from '@logyard/config';
import { ListenUriError, NoListenersError } from './errors.js';
import { GELF_MAX_MESSAGE_BYTES, GelfChunks, gelfPayloadText, isGelfChunk, isGelfProblem, parseGelf, type GelfMalformedReason } from './gelf.js';
import type { FrameProblem, FrameSink } from './framing.js';
import { eventJsonAsSent, isJsonProblem, JsonPieces, parseJsonEvent, type JsonMalformedReason } from './json.js';
import { parseListenUri } from './listen-uri.js';
import { openListener, type Listener, type ListenerHandlers } from './listeners.js';
import type { SyslogMalformedReason } from './syslog.js';
import { frameDetail, SyslogInput, type Where } from './syslog-input.js';

export type ReceiveLogLevel = 'INFO' | 'WARN' | 'ERROR';

export interface ReceiverOptions {
  config: LogyardConfig;
  /** Listener URIs; each list, when given, replaces the config's (receive.syslog, receive.json, receive.gelf). */
  syslog?: string[];
  json?: string[];
  gelf?: string[];
  log?: (level: ReceiveLogLevel, message: string) => void;
  /**
   * Where events go: the core's DirectPublisher when the receivers run inside the core
   * (receive.in_core); by default a Publisher to the core of config.run_dir.
   */
  publisher?: EventPublisher;
}

export type MalformedReason = SyslogMalformedReason | JsonMalformedReason | GelfMalformedReason | FrameProblem;

type Protocol = 'syslog' | 'json' | 'gelf';

export interface ReceiverStats {
  /** What it listens on, e.g. "syslog tcp://127.0.0.1:5514". */
  listeners: string[];
  /** Open stream connections (tcp, unix). */
  connections: number;
  /** Messages taken in: syslog frames and datagrams, JSON lines, GELF messages (not chunks); malformed ones included. */
  received: number;
  /** Messages refused, by reason; each is counted once and dropped. */
  malformed: Partial<Record<MalformedReason, number>>;
  /** Syslog messages longer than max_event, published as several events (too_long; nothing dropped). */
  split: number;
  /** Events cut by the per-key rate limit (told in-band in the key's stream). */
  rateLimited: number;
  published: number;
  sent: number;
  /** Events the publisher dropped (core absent or too slow, queue full). */
  dropped: number;
  /** Datagrams the kernel dropped on the udp listeners before they were read (receive buffer full). */
  kernelDrops: number;
}

/**
 * The receivers of `logyard receive`: syslog (RFC 5424, RFC 3164) and JSON over udp, tcp, unix
 * and unixgram sockets, published as `syslog.<app-name or tag>` and `<prefix>.<name>`. Each key
 * has its own token bucket, so a flooding sender loses only its own events, and the drops are
 * told in that key's stream.
 */
export class Receiver {
  private readonly listeners: Array<{ protocol: Protocol; listener: Listener }> = [];
  /** Chunked GELF messages waiting for their other chunks, from every gelf udp listener. */
  private readonly gelfChunks: GelfChunks;
  private readonly limiter: RateLimiter;
  private readonly flushTimer: NodeJS.Timeout;
  private readonly jsonKeyPrefix: string;
  private readonly maxEvent: number;
  private readonly syslog: SyslogInput;
  private readonly jsonPieces: JsonPieces;
  private readonly malformedCounts: Partial<Record<MalformedReason, number>> = {};
  private readonly malformedWarnings = new WarningLimit<MalformedReason>();
  /** JSON and GELF messages taken in (the syslog ones are counted by SyslogInput). */
  private received = 0;
  private waitingForReady: Array<() => void> = [];
  private readyTimer: NodeJS.Timeout | null = null;
  private closing: Promise<void> | null = null;

  private constructor(
    config: LogyardConfig,
    private readonly publisher: EventPublisher,
    private readonly log: (level: ReceiveLogLevel, message: string) => void,
  ) {
    this.jsonKeyPrefix = config.receive.jsonKeyPrefix;
    this.maxEvent = config.maxEvent;
    this.limiter = new RateLimiter({ rate: config.receive.rate, burst: config.receive.burst, onReport: (r) => this.report(r) });
    this.jsonPieces = new JsonPieces(publisher.nodeId);
    this.syslog = new SyslogInput({
      publisher,
      limiter: this.limiter,
      maxEvent: this.maxEvent,
      malformed: (reason, uri, detail) => this.malformed(reason, uri, detail),
    });
    this.gelfChunks = new GelfChunks({
      incomplete: (detail) => {
        this.received++;
        this.malformed('incomplete_chunks', 'gelf udp', detail);
      },
    });
    // A key that went quiet while dropping gets its count told within a second.
    this.flushTimer = setInterval(() => {
      this.limiter.flush();
      this.gelfChunks.expire();
    }, 1000);
  }

  /** Opens every listener; when one cannot be opened, closes the others and throws its error. */
  static async start(options: ReceiverOptions): Promise<Receiver> {
    const { config } = options;
    const log = options.log ?? (() => {});
    const baseDir = process.cwd();
    // Parse all first, so a typo in the last URI does not leave the first ones bound for nothing.
    const wanted = [
      ...(options.syslog ?? config.receive.syslog).map((uri) => ({ protocol: 'syslog' as const, uri: parseListenUri(uri, baseDir) })),
      ...(options.json ?? config.receive.json).map((uri) => ({ protocol: 'json' as const, uri: parseListenUri(uri, baseDir) })),
      ...(options.gelf ?? config.receive.gelf).map((uri) => ({ protocol: 'gelf' as const, uri: parseGelfListenUri(uri) })),
    ];
    if (wanted.length === 0) {
      throw new NoListenersError('nothing to receive: no listener in receive.syslog, receive.json or receive.gelf of the config, and no --syslog, --json or --gelf');
    }
    const publisher = options.publisher ?? new Publisher({ runDir: config.runDir, nodeId: config.nodeId });
    const receiver = new Receiver(config, publisher, log);
    try {
      for (const { protocol, uri } of wanted) {
        // The label becomes the bound address once known (port 0 asks the system for a port).
        const where = { uri: uri.uri };
        const listener = await openListener(uri, receiver.handlers(protocol, where), { udpBuffer: config.receive.udpBuffer });
        where.uri = listener.address;
        receiver.listeners.push({ protocol, listener });
        log('INFO', `${protocol} listening on ${listener.address}`);
      }
    } catch (err) {
      await receiver.close();
      throw err;
    }
    return receiver;
  }

  stats(): ReceiverStats {
    const p = this.publisher.stats();
    return {
      listeners: this.listeners.map(({ protocol, listener }) => `${protocol} ${listener.address}`),
      connections: this.listeners.reduce((n, { listener }) => n + listener.connections, 0),
      received: this.syslog.received + this.received,
      malformed: { ...this.malformedCounts },
      split: this.syslog.split,
      rateLimited: this.limiter.dropped,
      published: p.published,
      sent: p.sent,
      dropped: Object.values(p.dropped).reduce((a, b) => a + b, 0),
      kernelDrops: this.listeners.reduce((n, { listener }) => n + listener.kernelDrops(), 0),
    };
  }

  /** Stops listening, tells pending drop counts, hands what is queued to the core (up to 5 s). Safe to call twice. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      await Promise.all(this.listeners.map(({ listener }) => listener.close()));
      clearInterval(this.flushTimer);
      if (this.readyTimer) clearInterval(this.readyTimer);
      for (const { key } of this.limiter.dropping()) this.limiter.forget(key);
      await this.publisher.close(5000);
    })();
    return this.closing;
  }

  private handlers(protocol: Protocol, where: Where): ListenerHandlers {
    const common = {
      ready: () => !this.publisher.pauseReading(),
      whenReady: (resume: () => void) => this.whenReady(resume),
      warn: (message: string) => this.log('WARN', message),
    };
    if (protocol === 'syslog') {
      return { ...common, datagram: (buf, start, end) => this.syslog.datagram(whole(buf, start, end), where), frames: () => this.syslog.connection(where), framing: this.syslog.framing() };
    }
    if (protocol === 'gelf') {
      const messages: FrameSink = {
        frame: (buf, start, end) => this.gelfMessage(buf.toString('utf8', start, end), where.uri),
        problem: (r) => this.malformed(r, where.uri, frameDetail(r, this.maxEvent)),
      };
      return {
        ...common,
        datagram: (buf, start, end) => this.gelfDatagram(whole(buf, start, end), where.uri),
        // TCP: uncompressed, each message ended by a NUL; like a JSON object, one longer than max_event is refused.
        frames: () => messages,
        framing: { octetCounting: false, nulOnly: true, maxFrameBytes: Math.min(this.maxEvent, GELF_MAX_MESSAGE_BYTES) },
      };
    }
    // A JSON object longer than max_event is refused (a piece of one is no JSON object).
    const lines: FrameSink = {
      frame: (buf, start, end) => this.jsonLine(buf.toString('utf8', start, end), where.uri),
      problem: (r) => this.malformed(r, where.uri, frameDetail(r, this.maxEvent)),
    };
    return {
      ...common,
      // One object per datagram, or one per line.
      datagram: (buf, start, end) => this.jsonDatagram(buf, start, end, where.uri),
      frames: () => lines,
      framing: { octetCounting: false, maxFrameBytes: this.maxEvent },
    };
  }

  /** A GELF datagram: a whole message (plain, gzip or zlib) or one chunk of one. */
  private gelfDatagram(buf: Buffer, uri: string): void {
    let payload: Buffer | null = buf;
    if (isGelfChunk(buf)) {
      const r = this.gelfChunks.add(buf);
      if (r === null) return;
      if (isGelfProblem(r)) {
        this.received++;
        this.malformed(r.malformed, uri, r.detail);
        return;
      }
      payload = r;
    }
    const text = gelfPayloadText(payload);
    if (isGelfProblem(text)) {
      this.received++;
      this.malformed(text.malformed, uri, text.detail);
      return;
    }
    this.gelfMessage(text, uri);
  }

  private gelfMessage(json: string, uri: string): void {
    this.received++;
    if (this.tooLong(json, uri)) return;
    const r = parseGelf(json);
    if (isGelfProblem(r)) {
      this.malformed(r.malformed, uri, r.detail);
      return;
    }
    if (!this.limiter.take(r.key)) return;
    this.publisher.publish(r.key, r.fields);
  }

  private jsonDatagram(buf: Buffer, start: number, end: number, uri: string): void {
    const text = buf.toString('utf8', start, end);
    // Binary (Docker's gzip GELF sent here by mistake) is one malformed datagram, not one per "line" in it.
    // A byte that is not UTF-8 decodes as U+FFFD: only a datagram with one is checked.
    if (text.includes('\ufffd') && !isUtf8(buf.subarray(start, end))) {
      this.received++;
      this.malformed('invalid_json', uri, 'a binary datagram, not JSON text (gzip, zlib or chunked GELF belongs on a receive.gelf listener)');
      return;
    }
    // The usual datagram, one object (a newline at most at its end), goes out from its bytes.
    const first = text.indexOf('\n');
    if (first < 0 || text.trimEnd().length <= first) {
      if (text.trim() !== '') this.jsonLine(text, uri, buf, start, end);
      return;
    }
    let from = 0;
    for (;;) {
      const nl = text.indexOf('\n', from);
      const line = text.slice(from, nl < 0 ? text.length : nl);
      if (line.trim() !== '') this.jsonLine(line, uri);
      if (nl < 0) return;
      from = nl + 1;
    }
  }

  /** One JSON line; `buf[start, end)` its bytes when it is a datagram alone. */
  private jsonLine(line: string, uri: string, buf?: Buffer, start = 0, end = 0): void {
    this.received++;
    if (this.tooLong(line, uri)) return;
    const r = parseJsonEvent(line, this.jsonKeyPrefix);
    if (isJsonProblem(r)) {
      this.malformed(r.malformed, uri, r.detail);
      return;
    }
    if (!this.limiter.take(r.key)) return;
    if (buf !== undefined && this.jsonPieces.publish(this.publisher, r, line, buf, start, end)) return;
    const json = eventJsonAsSent(line, r, stampedMembersNow(this.publisher.nodeId));
    if (json !== null) this.publisher.publishJson(r.key, json);
    else this.publisher.publish(r.key, r.fields);
  }

  /** A JSON object (JSON or GELF) longer than max_event: refused and counted, as a piece of one is no object. */
  private tooLong(json: string, uri: string): boolean {
    // UTF-16 length times 3 bounds the UTF-8 bytes: most are not counted.
    if (json.length * 3 <= this.maxEvent || Buffer.byteLength(json) <= this.maxEvent) return false;
    this.malformed('too_long', uri, frameDetail('too_long', this.maxEvent));
    return true;
  }

  private malformed(reason: MalformedReason, uri: string, detail: string): void {
    this.malformedCounts[reason] = (this.malformedCounts[reason] ?? 0) + 1;
    if (this.malformedWarnings.take(reason)) {
      this.log('WARN', `dropping malformed input on ${uri}: ${detail} (counted as malformed ${reason}; logged at most once a minute)`);
    }
  }

  /** Rate-limit notices go into the flooding key's own stream, where its readers look. */
  private report(r: RateLimitReport): void {
    const text = rateLimitNoticeText(r);
    this.publisher.publish(r.key, { text });
    this.log('WARN', text);
  }

  private whenReady(resume: () => void): void {
    this.waitingForReady.push(resume);
    if (this.readyTimer) return;
    this.readyTimer = setInterval(() => {
      if (!this.publisher.mayReadAgain() && !this.closing) return;
      if (this.readyTimer) clearInterval(this.readyTimer);
      this.readyTimer = null;
      for (const r of this.waitingForReady.splice(0)) r();
    }, READING_POLL_MS);
  }
}

/** buf[start, end) as a Buffer of its own (a view, no copy), for readers that take whole datagrams. */
function whole(buf: Buffer, start: number, end: number): Buffer {
  return start === 0 && end === buf.length ? buf : buf.subarray(start, end);
}

/** GELF comes over udp (Docker's default) or tcp; there is no unix socket form of it. */
function parseGelfListenUri(uri: string): ReturnType<typeof parseListenUri> {
  const parsed = parseListenUri(uri);
  if (parsed.scheme !== 'udp' && parsed.scheme !== 'tcp') {
    throw new ListenUriError(`gelf listener "${uri}": GELF is received on udp://HOST:PORT or tcp://HOST:PORT only`);
  }
  return parsed;
}
