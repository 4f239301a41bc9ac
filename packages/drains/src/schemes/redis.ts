import type { Redis } from 'ioredis';
import { isNonEmpty, isNonNegativeInteger, isPositiveInteger } from '../params.js';
import { BrokenSignal } from '../broken-signal.js';
import type { DrainSpec, OutBatch, Scheme, Transport, TransportFactory } from '../scheme.js';
import { tlsOptions } from '../stream.js';

export const DEFAULT_REDIS_LIMIT = 1500;
const CONNECT_TIMEOUT_MS = 10_000;
const QUIT_TIMEOUT_MS = 2_000;

/**
 * LPUSH to a list per key (or the `key` param), then LTRIM to `limit`: the list holds the
 * newest events, newest first. Serves `rediss` too, over TLS.
 */
const connectRedis: TransportFactory = async (spec) => {
  const client = await redisClient(spec);
  const transport = new RedisTransport(client, spec);
  try {
    await client.connect();
  } catch (err) {
    client.disconnect();
    // connect() itself only says "Connection is closed."; the 'error' event had the reason.
    throw transport.brokenError ?? err;
  }
  return transport;
};

/** A client for a redis drain's server, not yet connected (`connect()`), that neither reconnects nor queues. */
export async function redisClient(spec: DrainSpec): Promise<Redis> {
  // Loaded on first use: ioredis costs ~25 MB of the core's memory, and most nodes run no redis drain.
  const { Redis } = await import('ioredis');
  return new Redis({
    host: spec.host,
    port: spec.port,
    username: spec.user,
    password: spec.password,
    db: Number(spec.params.database ?? 0),
    tls: spec.tls ? await tlsOptions(spec) : undefined,
    connectTimeout: CONNECT_TIMEOUT_MS,
    // The drain owns retries and buffering: ioredis must neither reconnect nor queue.
    lazyConnect: true,
    enableOfflineQueue: false,
    retryStrategy: () => null,
    maxRetriesPerRequest: 0,
  });
}

/** `redis`, and `rediss` (the same over TLS). */
export const redis: Scheme = {
  syntax: {
    target: 'network',
    defaultPort: 6379,
    takesCredentials: true,
    pathParam: 'database',
    params: { key: isNonEmpty, limit: isPositiveInteger, database: isNonNegativeInteger },
  },
  connect: connectRedis,
};

class RedisTransport implements Transport {
  private readonly broken = new BrokenSignal();
  private readonly key: string | undefined;
  private readonly limit: number;
  private closing: Promise<void> | null = null;

  constructor(
    private readonly client: Redis,
    spec: DrainSpec,
  ) {
    this.key = spec.params.key;
    this.limit = Number(spec.params.limit ?? DEFAULT_REDIS_LIMIT);
    // Listening also keeps ioredis from printing "Unhandled error event".
    client.on('error', (err: Error) => this.fail(err));
    client.on('end', () => this.fail(new Error(`connection to redis ${spec.host}:${spec.port} closed`)));
  }

  get brokenError(): Error | null {
    return this.broken.error;
  }

  async send(batch: OutBatch): Promise<void> {
    const pipeline = this.client.pipeline();
    for (const [key, values] of this.groupByKey(batch)) {
      // Pushing what LTRIM would cut at once is wasted work.
      const kept = values.length > this.limit ? values.slice(values.length - this.limit) : values;
      pipeline.lpush(key, ...kept);
      pipeline.ltrim(key, 0, this.limit - 1);
    }
    const results = await pipeline.exec();
    for (const [err] of results ?? []) if (err) throw err;
  }

  onBroken(cb: (err: Error) => void): void {
    this.broken.listen(cb);
  }

  close(): Promise<void> {
    this.closing ??= this.quit();
    return this.closing;
  }

  private async quit(): Promise<void> {
    if (this.client.status === 'ready') {
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<void>((resolve) => (timer = setTimeout(resolve, QUIT_TIMEOUT_MS)));
      await Promise.race([this.client.quit().catch(() => undefined), timeout]);
      clearTimeout(timer);
    }
    this.client.disconnect();
  }

  /** Lines (without their '\n') per target list, in order. */
  private groupByKey(batch: OutBatch): Map<string, string[]> {
    const groups = new Map<string, string[]>();
    for (let i = 0; i < batch.lines.length; i++) {
      const key = this.key ?? batch.keys[i];
      const line = batch.lines[i];
      const value = line.charCodeAt(line.length - 1) === 10 ? line.slice(0, -1) : line;
      const group = groups.get(key);
      if (group) group.push(value);
      else groups.set(key, [value]);
    }
    return groups;
  }

  private fail(err: Error): void {
    if (!this.closing) this.broken.fire(err);
  }
}
