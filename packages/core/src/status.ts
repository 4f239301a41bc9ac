import { createServer, type Server, type IncomingMessage, type ServerResponse } from 'node:http';
import { unlinkSync } from 'node:fs';
import type { DrainStatus } from '@logyard/drains';
import type { Registry } from 'prom-client';
import type { Logger } from './log.js';

export interface CoreStatus {
  node_id: string;
  version: string;
  pid: number;
  started: number;
  store: string;
  events: {
    in: number;
    /** Events that matched no drain and no subscriber: not a drop, nobody asked for them. */
    unrouted: number;
    malformed: Record<string, number>;
    /** Events that publishers sent and that never arrived, by reason (lost_in_transit). */
    dropped: Record<string, number>;
  };
  subscribers: { sent: number; dropped: number };
  memory: { rss_mb: number; heap_used_mb: number; heap_total_mb: number; external_mb: number };
  drains: Array<DrainStatus & { builtin?: boolean }>;
}

/** The web console's part of the status server (console/console-server.ts), loaded at its first request. */
export interface ConsoleHandler {
  /** Whether it served the request. */
  handle(req: IncomingMessage, res: ServerResponse, path: string, tcp: boolean): Promise<boolean>;
  close(): void;
}

/**
 * GET /status (JSON), GET /metrics (Prometheus) and the web console (GET /, /api/...), on the
 * run_dir socket and optionally on TCP.
 */
export class StatusServer {
  private readonly servers: Server[] = [];
  private metrics: Promise<Registry> | null = null;
  private console: Promise<ConsoleHandler> | null = null;

  constructor(
    private readonly read: () => CoreStatus,
    private readonly createMetrics: () => Promise<Registry>,
    private readonly log: Logger,
    private readonly createConsole?: () => Promise<ConsoleHandler>,
  ) {}

  async listenUnix(path: string): Promise<void> {
    try {
      unlinkSync(path); // stale: we hold the run_dir lock, so no live core owns it
    } catch {
      // did not exist
    }
    await this.listen((s) => s.listen(path), false);
  }

  /** A taken TCP port is a warning, not a failed start (docs/README.md, the node): several cores may share a host. */
  async listenTcp(address: string): Promise<void> {
    const at = address.lastIndexOf(':');
    const host = address.slice(0, at) || '127.0.0.1';
    const port = Number(address.slice(at + 1));
    try {
      await this.listen((s) => s.listen(port, host.replace(/^\[|\]$/g, '')), true);
    } catch (err) {
      this.log('WARN', `status: cannot listen on ${address} (${(err as Error).message}); status stays on the run_dir socket`);
    }
  }

  async close(): Promise<void> {
    const console = this.console;
    this.console = null;
    (await console?.catch(() => null))?.close();
    await Promise.all(this.servers.splice(0).map((s) => new Promise<void>((r) => {
      s.close(() => r());
      s.closeAllConnections();
    })));
  }

  private listen(start: (s: Server) => void, tcp: boolean): Promise<void> {
    const server = createServer((req, res) => void this.handle(req, res, tcp));
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.once('listening', () => {
        server.off('error', reject);
        this.servers.push(server);
        resolve();
      });
      start(server);
    });
  }

  private async handle(req: IncomingMessage, res: ServerResponse, tcp: boolean): Promise<void> {
    const url = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET') return send(res, 405, 'text/plain', 'only GET\n');
    if (url === '/status') return send(res, 200, 'application/json', JSON.stringify(this.read()) + '\n');
    if (url === '/metrics') {
      this.metrics ??= this.createMetrics();
      const registry = await this.metrics;
      return send(res, 200, registry.contentType, await registry.metrics());
    }
    if (this.createConsole) {
      this.console ??= this.createConsole();
      try {
        if (await (await this.console).handle(req, res, url, tcp)) return;
      } catch (err) {
        this.log('WARN', `console: ${(err as Error).message}`);
        if (!res.headersSent) return send(res, 500, 'text/plain', `console: ${(err as Error).message}\n`);
        return void res.end();
      }
    }
    send(res, 404, 'text/plain', 'not found: try /, /status or /metrics\n');
  }
}

function send(res: ServerResponse, code: number, type: string, body: string): void {
  res.writeHead(code, { 'content-type': type });
  res.end(body);
}
