import { createServer as createHttpServer, type IncomingHttpHeaders, type IncomingMessage, type Server as HttpServer, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { createServer as createTcpServer, type Server, type Socket } from 'node:net';
import { createServer as createTlsServer } from 'node:tls';
import parseSyslog from 'nsyslog-parser';

/** What nsyslog-parser (an independent RFC 5424 parser) makes of a message. */
export interface ParsedSyslog {
  type: string;
  version: number;
  prival: number;
  facility: string;
  level: string;
  ts: Date;
  host: string;
  appName: string;
  pid: string;
  messageid: string;
  message: string;
  /** One object per SD element: `$id` and its params. */
  structuredData: Array<Record<string, string>>;
}

export interface SyslogServer {
  port: number;
  /** Each received message as sent (framing removed), in order. */
  messages: string[];
  parsed(): ParsedSyslog[];
  close(): Promise<void>;
}

/**
 * A syslog receiver over TCP, or TLS with `tls`, that splits the stream by RFC 6587 octet
 * counting: `MSG-LEN SP` then exactly MSG-LEN bytes. A wrong count would derail every message
 * after it, so the count is checked too.
 */
export async function listenForSyslog(tls?: { cert: string; key: string }): Promise<SyslogServer> {
  const messages: string[] = [];
  const sockets = new Set<Socket>();
  const onSocket = (socket: Socket): void => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    let pending = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      pending = Buffer.concat([pending, chunk]);
      for (;;) {
        const space = pending.indexOf(0x20);
        if (space < 0) break;
        const lengthText = pending.subarray(0, space).toString('latin1');
        if (!/^[1-9][0-9]*$/.test(lengthText)) throw new Error(`bad octet count "${lengthText}"`);
        const end = space + 1 + Number(lengthText);
        if (pending.length < end) break;
        messages.push(pending.subarray(space + 1, end).toString('utf8'));
        pending = pending.subarray(end);
      }
    });
  };
  const server: Server = tls ? createTlsServer({ cert: tls.cert, key: tls.key }, onSocket) : createTcpServer(onSocket);
  // Failed handshakes (the drain refusing our certificate) are expected in some tests.
  server.on('tlsClientError', () => undefined);
  const port = await listen(server);
  return {
    port,
    messages,
    parsed: () => messages.map((message) => parseSyslog(message) as ParsedSyslog),
    close: () => closeServer(server, sockets),
  };
}

export interface ReceivedPost {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
  /** Which connection it came on (1, 2, ...): keep-alive shows as one number for many posts. */
  connection: number;
  /** The status the server answered. */
  status: number;
}

export interface HttpTarget {
  port: number;
  posts: ReceivedPost[];
  /** Sets how the next requests are answered: status and body. */
  answer(status: number, body?: string): void;
  close(): Promise<void>;
}

/** A real node:http(s) server that records every request and answers what the test says (200 by default). */
export async function listenForHttp(tls?: { cert: string; key: string }): Promise<HttpTarget> {
  const posts: ReceivedPost[] = [];
  let status = 200;
  let answerBody = '';
  const connections = new WeakMap<Socket, number>();
  const sockets = new Set<Socket>();
  let connectionCount = 0;
  const handler = (req: IncomingMessage, res: ServerResponse): void => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => (body += chunk));
    req.on('end', () => {
      posts.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body, connection: connections.get(req.socket) ?? 0, status });
      res.writeHead(status, { 'Content-Type': 'text/plain' }).end(answerBody);
    });
  };
  const server: HttpServer = tls ? createHttpsServer({ cert: tls.cert, key: tls.key }, handler) : createHttpServer(handler);
  const track = (socket: Socket): void => {
    connections.set(socket, ++connectionCount);
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  };
  server.on(tls ? 'secureConnection' : 'connection', track);
  server.on('tlsClientError', () => undefined);
  const port = await listen(server);
  return {
    port,
    posts,
    answer: (nextStatus, nextBody = '') => {
      status = nextStatus;
      answerBody = nextBody;
    },
    close: () => closeServer(server, sockets),
  };
}

async function listen(server: Server): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const address = server.address();
  return typeof address === 'object' && address ? address.port : 0;
}

function closeServer(server: Server, sockets: Set<Socket>): Promise<void> {
  return new Promise((resolve) => {
    sockets.forEach((socket) => socket.destroy());
    server.close(() => resolve());
  });
}
