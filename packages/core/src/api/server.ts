import { readFileSync } from 'node:fs';
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AuditRecord } from '@logyard/bus';
import type { Store, TenantRecord } from '@logyard/store';
import { CoreError } from '../errors.js';
import type { Logger } from '../log.js';
import { authenticate } from './auth.js';
import { deleteDrain, drainStatus, getDrain, listDrains, putDrain, type DrainsContext } from './drains-routes.js';
import { ApiError, readJsonBody, sendError, sendJson } from './http.js';
import { Tails } from './tail.js';

export interface DrainsApiOptions {
  /** `host:port` to listen on. */
  address: string;
  /** PEM files: HTTPS when set (the config allows plain HTTP on loopback only). */
  tls?: { cert: string; key: string };
  store: Store;
  nodeId: string;
  /** The tenants as the core last saw them in the store. */
  tenants: () => ReadonlyMap<string, TenantRecord>;
  formats: () => Record<string, string>;
  /** Publishes an audit event on this node. */
  audit: (record: AuditRecord) => void;
  listenHost: string;
  log: Logger;
}

const DRAIN_PATH = /^\/v1\/drains\/([^/]+)(\/status)?$/;

/**
 * The drains API of docs/tenants.md, served by the core when `api:` is set. Every request is
 * authenticated first (401 tells nothing about what exists); a tenant only ever reaches the
 * drains named `tenant.<itself>.*`, and another tenant's drain is a 404 like one that does not exist.
 */
export class DrainsApi {
  private server: Server | null = null;
  private readonly tails: Tails;
  private readonly drains: DrainsContext;
  private closing: Promise<void> | null = null;

  constructor(private readonly options: DrainsApiOptions) {
    this.tails = new Tails({ store: options.store, nodeId: options.nodeId, listenHost: options.listenHost, tenants: options.tenants });
    this.drains = { store: options.store, formats: options.formats, audit: options.audit };
  }

  async listen(): Promise<void> {
    const { address, tls } = this.options;
    let server: Server;
    try {
      server = tls
        ? createHttpsServer({ cert: readFileSync(tls.cert), key: readFileSync(tls.key) }, (req, res) => void this.handle(req, res))
        : createHttpServer((req, res) => void this.handle(req, res));
    } catch (err) {
      throw new CoreError(`api: cannot use api_tls (${(err as Error).message})`, { cause: err });
    }
    server.headersTimeout = 10_000;
    server.requestTimeout = 30_000;
    const at = address.lastIndexOf(':');
    const host = address.slice(0, at).replace(/^\[|\]$/g, '');
    await new Promise<void>((resolve, reject) => {
      server.once('error', (err: NodeJS.ErrnoException) => reject(new CoreError(`api: cannot listen on ${address} (${err.code ?? err.message})`, { cause: err })));
      server.listen(Number(address.slice(at + 1)), host, () => resolve());
    });
    this.server = server;
    this.options.log('INFO', `drains API on ${tls ? 'https' : 'http'}://${address}`);
  }

  /** Ends the tails, then the server. Safe to call twice. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      await this.tails.close();
      const server = this.server;
      if (!server) return;
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    })();
    return this.closing;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    try {
      await this.route(req, res);
    } catch (err) {
      if (res.headersSent) {
        res.destroy();
        return;
      }
      if (err instanceof ApiError) return sendError(res, err);
      // The store unreachable and the like: the client may try again; the message names no secret.
      this.options.log('WARN', `api: ${req.method} ${pathOf(req)}: ${(err as Error)?.message ?? String(err)}`);
      sendError(res, new ApiError(503, 'the store cannot be reached right now; try again'));
    }
  }

  private async route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const tenant = authenticate(req.headers.authorization, this.options.tenants());
    let url: URL;
    try {
      url = new URL(req.url ?? '/', 'http://api');
    } catch {
      throw new ApiError(400, 'path: not a valid request target', 'path');
    }
    const method = req.method ?? 'GET';
    if (url.pathname === '/v1/drains') {
      allow(method, ['GET']);
      return sendJson(res, 200, await listDrains(this.drains, tenant));
    }
    if (url.pathname === '/v1/tail') {
      allow(method, ['GET']);
      return this.tails.serve(req, res, tenant, url.searchParams);
    }
    const match = DRAIN_PATH.exec(url.pathname);
    if (!match) throw new ApiError(404, `no such resource: ${url.pathname.slice(0, 200)} (see /v1/drains and /v1/tail)`);
    let name: string;
    try {
      name = decodeURIComponent(match[1]);
    } catch {
      throw new ApiError(404, 'no such drain');
    }
    if (match[2]) {
      allow(method, ['GET']);
      return sendJson(res, 200, await drainStatus(this.drains, tenant, name));
    }
    allow(method, ['GET', 'PUT', 'DELETE']);
    if (method === 'GET') return sendJson(res, 200, await getDrain(this.drains, tenant, name));
    if (method === 'DELETE') {
      await deleteDrain(this.drains, tenant, name);
      return sendJson(res, 204, undefined);
    }
    const { status, drain } = await putDrain(this.drains, tenant, name, await readJsonBody(req));
    sendJson(res, status, drain);
  }
}

function allow(method: string, allowed: string[]): void {
  if (!allowed.includes(method)) throw new ApiError(405, `method ${method.slice(0, 20)} not allowed here (allowed: ${allowed.join(', ')})`, undefined, { allow: allowed.join(', ') });
}

function pathOf(req: IncomingMessage): string {
  return (req.url ?? '/').split('?')[0].slice(0, 200);
}
