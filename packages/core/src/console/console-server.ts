import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { isIPv4 } from 'node:net';
import { fileURLToPath } from 'node:url';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { defaultNodeId, filterProblem } from '@logyard/bus';
import type { ClusterView, Store } from '@logyard/store';
import { readCluster } from '../cluster.js';
import type { RateHistory } from '../rate-history.js';
import { streamTail } from './live-tail.js';
import { consoleToken, isLoopbackAddress, tokenMatches } from './token.js';

export interface ConsoleOptions {
  store: () => Store | null;
  nodeId: string;
  storeUri: string;
  stateDir: string;
  /** The TCP status address (`host:port` or `off`). */
  status: string;
  /** The rate graph's last 10 minutes, which the core keeps whether a console is open or not. */
  history: () => RateHistory;
}

const PAGE_DIR = fileURLToPath(new URL('../../console/', import.meta.url));
const UPLOT_DIR = createRequire(import.meta.url).resolve('uplot/dist/uPlot.iife.min.js').replace(/uPlot\.iife\.min\.js$/, '');

/** Reads of the store by the console are shared for this long (the page refreshes every second). */
const SHARED_READ_MS = 900;

/** What the page loads: all of it from the core (docs/live.md: nothing from the internet). */
const ASSETS: Record<string, { file: string; type: string }> = {
  '/': { file: PAGE_DIR + 'index.html', type: 'text/html; charset=utf-8' },
  '/console/app.js': { file: PAGE_DIR + 'app.js', type: 'text/javascript; charset=utf-8' },
  '/console/console.css': { file: PAGE_DIR + 'console.css', type: 'text/css; charset=utf-8' },
  '/console/uPlot.iife.min.js': { file: UPLOT_DIR + 'uPlot.iife.min.js', type: 'text/javascript; charset=utf-8' },
  '/console/uPlot.min.css': { file: UPLOT_DIR + 'uPlot.min.css', type: 'text/css; charset=utf-8' },
};

/**
 * The web console on the status address (docs/live.md): its page and scripts, and the JSON API
 * the page reads (`/api/cluster`: the cluster from the store with the rate history;
 * `/api/tail?prefix=P`: a live tail as server-sent events). Loaded by the status server at the
 * first request for it, so a core nobody looks at never loads it.
 */
export class ConsoleServer {
  private readonly token: string | null;
  /** The last read of the store: pages open together share one read a second. */
  private lastRead: { at: number; view: Promise<ClusterView> } | null = null;

  constructor(private readonly options: ConsoleOptions) {
    // The token is made at the core's start either way (so it is there when the address changes).
    const token = consoleToken(options.stateDir);
    this.token = options.status !== 'off' && !isLoopbackAddress(options.status) ? token : null;
  }

  /** Whether it served the request (a console path). `tcp`: the request came on the TCP status address. */
  async handle(req: IncomingMessage, res: ServerResponse, path: string, tcp: boolean): Promise<boolean> {
    const asset = ASSETS[path];
    if (asset) {
      // The page itself is not secret: it asks for the token, which the API needs.
      res.writeHead(200, { 'content-type': asset.type, 'cache-control': 'no-cache', 'x-content-type-options': 'nosniff' });
      res.end(await readFile(asset.file));
      return true;
    }
    if (!path.startsWith('/api/')) return false;
    const url = new URL(req.url ?? '/', 'http://console');
    if (tcp && this.token !== null) {
      const bearer = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
      if (!tokenMatches(this.token, bearer ?? url.searchParams.get('token') ?? undefined)) {
        json(res, 401, { error: 'this console needs the token in <state_dir>/console.token of the node' });
        return true;
      }
    }
    if (path === '/api/cluster') {
      const view = await this.view().catch((err: Error) => err);
      if (view instanceof Error) {
        json(res, 503, { error: view.message });
        return true;
      }
      json(res, 200, { ...view, node_id: this.options.nodeId, store: this.options.store()?.description ?? this.options.storeUri, history: this.options.history() });
      return true;
    }
    if (path === '/api/tail') {
      const prefix = url.searchParams.get('prefix') ?? '';
      const problem = filterProblem(prefix);
      const store = this.options.store();
      if (problem || !store) {
        json(res, problem ? 400 : 503, { error: problem ? `prefix "${prefix}": ${problem}` : 'the store is not open yet' });
        return true;
      }
      await streamTail(req, res, { store, host: this.tailHost(), nodeId: this.options.nodeId, prefix }).catch((err: Error) => {
        if (!res.headersSent) json(res, 503, { error: err.message });
      });
      return true;
    }
    json(res, 404, { error: `no API ${path}` });
    return true;
  }

  close(): void {
    // Nothing of its own to stop: the tails end with their requests.
  }

  private view(): Promise<ClusterView> {
    const now = Date.now();
    if (this.lastRead && now - this.lastRead.at < SHARED_READ_MS) return this.lastRead.view;
    const store = this.options.store();
    if (!store) return Promise.reject(new Error('the store is not open yet'));
    const view = readCluster(store).then((r) => r.view);
    this.lastRead = { at: now, view };
    // A failed read is not kept: the next request tries again.
    view.catch(() => (this.lastRead = null));
    return view;
  }

  /**
   * Where the other cores can reach this core's tail listener: the status address's host when it
   * names one, 127.0.0.1 on the file store, else this node's IPv4 address (as `logyard tail`).
   */
  private tailHost(): string {
    const host = this.options.status === 'off' ? '' : this.options.status.slice(0, this.options.status.lastIndexOf(':')).replace(/^\[|\]$/g, '');
    if (host && host !== '0.0.0.0' && host !== '::' && host !== 'localhost') return host;
    if (this.options.storeUri.startsWith('file://') || host === 'localhost') return '127.0.0.1';
    if (isIPv4(this.options.nodeId)) return this.options.nodeId;
    const address = defaultNodeId();
    return isIPv4(address) ? address : '127.0.0.1';
  }
}

function json(res: ServerResponse, code: number, body: unknown): void {
  res.writeHead(code, { 'content-type': 'application/json', 'cache-control': 'no-store' });
  res.end(JSON.stringify(body) + '\n');
}
