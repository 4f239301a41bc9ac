import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';

export interface ApiAnswer {
  status: number;
  headers: IncomingMessage['headers'];
  text: string;
  json: any;
}

/** One request to a drains API (http or https with the test CA), as curl would make it. */
export function apiRequest(
  base: string,
  method: string,
  path: string,
  options: { token?: string; body?: string | object; headers?: Record<string, string>; ca?: string } = {},
): Promise<ApiAnswer> {
  const url = new URL(path, base);
  const body = options.body === undefined ? undefined : typeof options.body === 'string' ? options.body : JSON.stringify(options.body);
  const request = url.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method,
        ca: options.ca,
        headers: {
          ...(options.token === undefined ? {} : { authorization: `Bearer ${options.token}` }),
          ...(body === undefined ? {} : { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)) }),
          ...options.headers,
        },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('end', () => {
          let json: unknown;
          try {
            json = text ? JSON.parse(text) : undefined;
          } catch {
            json = undefined;
          }
          resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json });
        });
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/** An SSE stream from the API: the `data:` of each message as it comes, until close(). */
export async function openSse(
  base: string,
  path: string,
  token: string,
  ca?: string,
): Promise<{ status: number; messages: any[]; text: () => string; close(): void; ended: Promise<void> }> {
  const url = new URL(path, base);
  const request = url.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = request(url, { ca, headers: { authorization: `Bearer ${token}`, accept: 'text/event-stream' } }, (res) => {
      const messages: any[] = [];
      let all = '';
      let rest = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        all += chunk;
        rest += chunk;
        let end: number;
        while ((end = rest.indexOf('\n\n')) >= 0) {
          const block = rest.slice(0, end);
          rest = rest.slice(end + 2);
          const data = block.split('\n').filter((l) => l.startsWith('data: ')).map((l) => l.slice(6)).join('\n');
          if (data) messages.push(JSON.parse(data));
        }
      });
      res.on('error', () => undefined);
      const ended = new Promise<void>((done) => res.once('close', () => done()));
      resolve({ status: res.statusCode ?? 0, messages, text: () => all, close: () => req.destroy(), ended });
    });
    req.on('error', reject);
    req.end();
  });
}
