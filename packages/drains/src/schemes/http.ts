import { Agent as HttpAgent, request as httpRequest, type ClientRequest, type IncomingMessage } from 'node:http';
import { DrainRejectedError } from '../errors.js';
import { isPositiveInteger } from '../params.js';
import { redactSecrets } from '../redact.js';
import type { DrainSpec, OutBatch, Scheme, Transport, TransportFactory } from '../scheme.js';
import { hostPort, openStream, tlsOptions } from '../stream.js';

export const DEFAULT_HTTP_BATCH = 500;

/** A drain hands a transport at most 1,000 events (and 96 KiB) per send; a larger `batch` could never be reached. */
const MAX_HTTP_BATCH = 1_000;

/** A target that answers nothing for this long is treated as down (the drain retries). */
const REQUEST_TIMEOUT_MS = 30_000;
/** How long close() lets the POST in flight finish before aborting it. */
const CLOSE_FLUSH_MS = 2_000;
/** How much of an error response's body goes into the drain's status (it may echo what was sent). */
const MAX_ERROR_BODY = 120;

/**
 * Batched POSTs of the drain's lines (newline-delimited JSON with the default format), at most
 * `batch` events each, over one keep-alive connection. 2xx is delivered; 5xx, 408, 429 and
 * connection errors reject (the drain retries on its schedule); any other status will not
 * change by retrying (bad token, bad path, too large) and makes the drain FATAL with it.
 */
const connectHttp: TransportFactory = async (spec, ctx) => {
  const target = hostPort(spec.host ?? '', spec.port ?? 0);
  // A connection made (and, for https, verified) now shows a dead target or a bad certificate
  // as RETRYING at once instead of at the first event; the agent then makes its own.
  const tls = spec.tls ? await tlsOptions(spec) : undefined;
  (await openStream(spec, target, tls)).destroy();
  const agentOptions = { keepAlive: true, maxSockets: 1 };
  // node:https only for an https drain: a core without one does not carry it.
  const https = tls ? await import('node:https') : undefined;
  const agent = https ? new https.Agent({ ...agentOptions, ...tls }) : new HttpAgent(agentOptions);
  return new HttpTransport(spec, agent, https?.request ?? httpRequest, ctx.drainToken);
};

/**
 * `http` (and `https`, over TLS). Query params that are not Logyard's own are the target's
 * (ClickHouse's `?query=INSERT ...`) and go on the request line as written.
 */
export const http: Scheme = {
  syntax: {
    target: 'network',
    defaultPort: 80,
    tlsDefaultPort: 443,
    takesCredentials: true,
    takesPath: true,
    passesUnknownParams: true,
    params: { batch: (value: string) => isPositiveInteger(value) && Number(value) <= MAX_HTTP_BATCH },
  },
  connect: connectHttp,
};

interface InFlight {
  request: ClientRequest;
  settled: Promise<void>;
}

class HttpTransport implements Transport {
  readonly maxBatchEvents: number;
  /** Where the POSTs go, without credentials nor the target's query (which may hold some): for messages. */
  private readonly url: string;
  /** The path and query of the request line. */
  private readonly requestPath: string;
  private readonly contentType: string;
  private inFlight: InFlight | null = null;
  private closing: Promise<void> | null = null;

  constructor(
    private readonly spec: DrainSpec,
    private readonly agent: HttpAgent,
    private readonly requestFn: typeof httpRequest,
    /** Sent as `Logyard-Drain-Token` so the receiver can tell which drain a POST came from (Heroku's Logplex-Drain-Token). */
    private readonly drainToken?: string,
  ) {
    this.maxBatchEvents = Number(spec.params.batch ?? DEFAULT_HTTP_BATCH);
    this.url = `${spec.scheme}://${hostPort(spec.host ?? '', spec.port ?? 0)}${spec.path ?? '/'}`;
    this.requestPath = spec.targetQuery === undefined ? (spec.path ?? '/') : `${spec.path ?? '/'}?${spec.targetQuery}`;
    // Only the json format makes NDJSON; other formats send their lines as text.
    this.contentType = spec.format === 'json' ? 'application/x-ndjson' : 'text/plain; charset=utf-8';
  }

  async send(batch: OutBatch): Promise<void> {
    if (this.closing) throw this.closedError();
    const body = batch.lines.join('');
    try {
      await this.post(body);
    } catch (err) {
      // A kept-alive connection the server closed while idle fails the next request at once;
      // that is no outage, so one fresh try before the drain hears of it (as node's docs advise).
      if (!(err instanceof StaleConnectionError) || this.closing) throw unwrap(err);
      await this.post(body).catch((retryErr: unknown) => Promise.reject(unwrap(retryErr)));
    }
  }

  onBroken(): void {
    // No connection to lose between sends: each POST reports its own failure.
  }

  close(): Promise<void> {
    this.closing ??= this.shutDown();
    return this.closing;
  }

  private async shutDown(): Promise<void> {
    const inFlight = this.inFlight;
    if (inFlight) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([inFlight.settled, new Promise((resolve) => (timer = setTimeout(resolve, CLOSE_FLUSH_MS)))]);
      clearTimeout(timer);
      inFlight.request.destroy(this.closedError());
      await inFlight.settled;
    }
    this.agent.destroy();
  }

  private post(body: string): Promise<void> {
    const { spec } = this;
    let request!: ClientRequest;
    const result = new Promise<void>((resolve, reject) => {
      request = this.requestFn({
        agent: this.agent,
        host: spec.host,
        port: spec.port,
        path: this.requestPath,
        method: 'POST',
        // Basic auth; the password is never part of a message.
        auth: spec.user !== undefined || spec.password !== undefined ? `${spec.user ?? ''}:${spec.password ?? ''}` : undefined,
        headers: {
          'Content-Type': this.contentType,
          'Content-Length': Buffer.byteLength(body),
          'User-Agent': 'logyard',
          ...(this.drainToken === undefined ? {} : { 'Logyard-Drain-Token': this.drainToken }),
        },
      });
      request.setTimeout(REQUEST_TIMEOUT_MS, () => request.destroy(new Error(`no answer from ${this.url} within ${REQUEST_TIMEOUT_MS / 1000} s`)));
      request.on('error', (err: NodeJS.ErrnoException) => {
        const stale = request.reusedSocket && (err.code === 'ECONNRESET' || err.code === 'EPIPE');
        reject(stale ? new StaleConnectionError(err) : err);
      });
      request.on('response', (response) => readAnswer(response, this.url).then(resolve, reject));
      request.end(body);
    });
    const settled = result.then(
      () => undefined,
      () => undefined,
    );
    this.inFlight = { request, settled };
    void settled.then(() => {
      if (this.inFlight?.request === request) this.inFlight = null;
    });
    return result;
  }

  private closedError(): Error {
    return new Error(`http drain to ${this.url} closed`);
  }
}

/** Settles once the whole answer is read (which frees the connection for the next POST). */
function readAnswer(response: IncomingMessage, url: string): Promise<void> {
  return new Promise((resolve, reject) => {
    let head = '';
    response.setEncoding('utf8');
    response.on('data', (chunk: string) => {
      if (head.length < MAX_ERROR_BODY) head += chunk;
    });
    response.on('error', reject);
    response.on('end', () => {
      const status = response.statusCode ?? 0;
      if (status >= 200 && status < 300) return resolve();
      // The body may echo the request's credentials (an Authorization header, a token): hidden.
      const body = redactSecrets(head.replace(/\s+/g, ' ').trim()).slice(0, MAX_ERROR_BODY);
      const message = `HTTP ${status}${response.statusMessage ? ` ${response.statusMessage}` : ''} from ${url}${body ? `: ${body}` : ''}`;
      // Timeouts, throttling and server errors pass; other answers repeat themselves forever.
      if (status >= 500 || status === 408 || status === 429) reject(new Error(message));
      else reject(new DrainRejectedError(message, status));
    });
  });
}

/** A request that failed because its kept-alive connection had been closed by the server. */
class StaleConnectionError extends Error {
  constructor(readonly original: Error) {
    super(original.message, { cause: original });
  }
}

function unwrap(err: unknown): unknown {
  return err instanceof StaleConnectionError ? err.original : err;
}
