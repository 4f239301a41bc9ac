import { createServer, type Socket } from 'node:net';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { decodeLines, filterProblem, TENANT_DRAIN_PREFIX, withinSegments } from '@logyard/bus';
import type { Store, TemporaryHandle, TenantRecord } from '@logyard/store';
import { ApiError } from './http.js';

/** Tails a tenant may run at once (each is a drain on every node). */
const MAX_TAILS_PER_TENANT = 8;
/** A comment line this often keeps proxies from closing a quiet stream. */
const KEEPALIVE_MS = 15_000;

export interface TailContext {
  store: Store;
  nodeId: string;
  /** Where the cores can reach this node (see defaultListenHost). */
  listenHost: string;
  /** The tenants as the core sees them now: a tail whose token was rotated or revoked ends. */
  tenants: () => ReadonlyMap<string, TenantRecord>;
}

/** How often an open tail checks that its token still opens its tenant. */
const REVOCATION_CHECK_MS = 250;

/**
 * `GET /v1/tail?filter=P`: Server-Sent Events of the tenant's events under P from every node. Like
 * `logyard tail`, a temporary drain (`tenant.<tenant>.tmp.tail.<node>.<port>`, so the cores route it
 * inside the tenant's prefixes on whole segments) points every core at a listener of this core;
 * each event becomes one message whose `data:` is its JSON with `key` added. The drain goes when
 * the client does (or, if this core dies, when its lease expires). While the client reads slowly
 * the listener stops reading, and the cores' drain buffers drop the oldest events with the usual notice.
 */
export class Tails {
  private readonly open = new Map<string, Set<() => Promise<void>>>();

  constructor(private readonly ctx: TailContext) {}

  async serve(req: IncomingMessage, res: ServerResponse, tenant: TenantRecord, query: URLSearchParams): Promise<void> {
    const filters = tailFilters(tenant, query.getAll('filter'));
    const running = this.open.get(tenant.name) ?? new Set();
    if (running.size >= MAX_TAILS_PER_TENANT) throw new ApiError(429, `at most ${MAX_TAILS_PER_TENANT} tails at once per tenant`);
    const conns = new Set<Socket>();
    const listener = createServer((socket) => {
      conns.add(socket);
      socket.on('close', () => conns.delete(socket));
      follow(socket, res);
    });
    await new Promise<void>((resolve, reject) => {
      listener.once('error', reject);
      listener.listen(0, this.ctx.listenHost, () => resolve());
    });
    const { port } = listener.address() as { port: number };
    const name = `${TENANT_DRAIN_PREFIX}${tenant.name}.tmp.tail.${this.ctx.nodeId.replace(/[^A-Za-z0-9_-]/g, '-')}.${port}`;
    const host = this.ctx.listenHost.includes(':') ? `[${this.ctx.listenHost}]` : this.ctx.listenHost;
    const uri = `tcp://${host}:${port}?${[...filters.map((f) => `filter=${encodeURIComponent(f)}`), 'format=raw'].join('&')}`;
    let handle: TemporaryHandle;
    try {
      handle = await this.ctx.store.putTemporaryDrain(name, uri);
    } catch (err) {
      listener.close();
      throw err;
    }
    let stopped: Promise<void> | undefined;
    const stop = (): Promise<void> =>
      (stopped ??= (async () => {
        running.delete(stop);
        if (running.size === 0) this.open.delete(tenant.name);
        clearInterval(keepalive);
        clearInterval(revocation);
        await handle.release().catch(() => undefined);
        listener.close();
        for (const socket of conns) socket.destroy();
        res.end();
      })());
    running.add(stop);
    this.open.set(tenant.name, running);
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', connection: 'keep-alive', 'x-accel-buffering': 'no' });
    res.write(`: tailing ${filters.join(', ')} from every node\n\n`);
    const keepalive = setInterval(() => res.write(': keepalive\n\n'), KEEPALIVE_MS);
    keepalive.unref();
    // A rotated or deleted tenant's token stops working for streams already open too.
    const revocation = setInterval(() => {
      if (this.ctx.tenants().get(tenant.name)?.token_sha256 !== tenant.token_sha256) void stop();
    }, REVOCATION_CHECK_MS);
    revocation.unref();
    req.socket.on('close', () => void stop());
    res.on('close', () => void stop());
  }

  /** Ends every tail (the core is stopping). */
  async close(): Promise<void> {
    await Promise.all([...this.open.values()].flatMap((set) => [...set].map((stop) => stop())));
  }
}

/** The tail's filters: each inside the tenant's prefixes (403 otherwise); none given: all of them. */
function tailFilters(tenant: TenantRecord, given: string[]): string[] {
  for (const filter of given) {
    const problem = filterProblem(filter);
    if (problem || filter === '') throw new ApiError(400, `filter: ${problem ?? 'must not be empty'}`, 'filter');
    if (!tenant.prefixes.some((prefix) => withinSegments(filter, prefix))) {
      throw new ApiError(403, `filter: "${filter}" is outside the prefixes of tenant ${tenant.name} (${tenant.prefixes.join(', ')})`, 'filter');
    }
  }
  return given.length > 0 ? [...new Set(given)] : tenant.prefixes;
}

/** One core's connection: `KEY JSON` lines become SSE messages; reading pauses while the client is behind. */
function follow(socket: Socket, res: ServerResponse): void {
  let partial = '';
  socket.setEncoding('utf8');
  socket.on('data', (chunk: string) => {
    const end = chunk.lastIndexOf('\n');
    if (end < 0) {
      partial += chunk;
      return;
    }
    const lines = partial + chunk.slice(0, end + 1);
    partial = chunk.slice(end + 1);
    let out = '';
    decodeLines(lines, {
      event: (key, json) => {
        out += `data: ${withKey(key, json)}\n\n`;
      },
      malformed: () => undefined,
    });
    if (out !== '' && !res.write(out)) {
      socket.pause();
      res.once('drain', () => socket.resume());
    }
  });
  socket.on('error', () => undefined);
}

/** The event's JSON with its key added (the routing key wins over a field of that name). */
function withKey(key: string, json: string): string {
  try {
    return JSON.stringify({ ...(JSON.parse(json) as object), key });
  } catch {
    return JSON.stringify({ key });
  }
}
