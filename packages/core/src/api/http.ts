import type { IncomingMessage, ServerResponse } from 'node:http';

/** The largest request body the drains API reads; a drain is a URI and a few filters. */
export const MAX_BODY_BYTES = 64 * 1024;

/** An answer other than success: its status and the one-line error of docs/tenants.md, naming the field when one is at fault. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly field?: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = body === undefined ? '' : JSON.stringify(body) + '\n';
  res.writeHead(status, { ...(text ? { 'content-type': 'application/json' } : {}), 'cache-control': 'no-store', ...headers });
  res.end(text);
}

export function sendError(res: ServerResponse, error: ApiError): void {
  sendJson(res, error.status, { error: error.message, ...(error.field ? { field: error.field } : {}) }, error.headers);
}

/** The request's body as JSON; 413 past MAX_BODY_BYTES (read no further), 400 when it is not JSON. */
export async function readJsonBody(req: IncomingMessage): Promise<unknown> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > MAX_BODY_BYTES) throw new ApiError(413, `body: larger than ${MAX_BODY_BYTES} bytes`, 'body');
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) throw new ApiError(413, `body: larger than ${MAX_BODY_BYTES} bytes`, 'body');
    chunks.push(chunk);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  if (text.trim() === '') throw new ApiError(400, 'body: missing (a JSON object such as {"uri": "syslog+tls://logs.example.com:6514"})', 'body');
  try {
    return JSON.parse(text);
  } catch {
    throw new ApiError(400, 'body: not valid JSON', 'body');
  }
}
