import { createServer, type Server, type Socket } from 'node:net';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { decodeLines } from '@logyard/bus';
import type { Store, TemporaryHandle } from '@logyard/store';

/** How often an idle stream gets a comment, so that a page gone without closing is noticed. */
const KEEPALIVE_MS = 5_000;

/**
 * The console's live tail: a temporary drain `tmp.console.<node>.<port>` (format raw, the typed
 * prefix as its filter) pointing at a listener of this core, as `logyard tail` makes one; every
 * core connects and sends its matching events, which go to the page as server-sent events
 * (`data: {"key","event"}`). The drain is removed as soon as the page goes (its connection
 * closes); if this core dies, the drain's lease ends it within 10 s. While the page reads
 * slowly, the cores' connections are paused and their drains' buffers take the rest.
 */
export async function streamTail(
  req: IncomingMessage,
  res: ServerResponse,
  options: { store: Store; host: string; nodeId: string; prefix: string },
): Promise<void> {
  const sockets = new Set<Socket>();
  let blocked = false;
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    if (blocked) socket.pause();
    let partial = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      const text = partial + chunk;
      const end = text.lastIndexOf('\n');
      partial = text.slice(end + 1);
      if (end < 0) return;
      let out = '';
      decodeLines(text.slice(0, end + 1), {
        event: (key, json) => (out += `data: {"key":${JSON.stringify(key)},"event":${json}}\n\n`),
        malformed: () => undefined,
      });
      if (out && !res.write(out)) {
        blocked = true;
        for (const s of sockets) s.pause();
      }
    });
    socket.on('error', () => undefined);
    socket.on('close', () => sockets.delete(socket));
  });
  res.on('drain', () => {
    blocked = false;
    for (const s of sockets) s.resume();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, options.host, () => resolve());
  });
  const { port } = server.address() as { port: number };
  const name = `tmp.console.${options.nodeId.replace(/[^A-Za-z0-9_.-]/g, '-')}.${port}`;
  const host = options.host.includes(':') ? `[${options.host}]` : options.host;
  let handle: TemporaryHandle | undefined;
  let keepalive: NodeJS.Timeout | undefined;
  const end = async (): Promise<void> => {
    clearInterval(keepalive);
    await handle?.release().catch(() => undefined);
    for (const s of sockets) s.destroy();
    server.close();
  };
  try {
    handle = await options.store.putTemporaryDrain(name, `tcp://${host}:${port}?filter=${encodeURIComponent(options.prefix)}&format=raw`);
  } catch (err) {
    await end();
    throw err;
  }
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', connection: 'keep-alive' });
  res.write(`event: drain\ndata: ${JSON.stringify({ name })}\n\n`);
  keepalive = setInterval(() => res.write(': keepalive\n\n'), KEEPALIVE_MS);
  req.socket.setNoDelay(true);
  await new Promise<void>((resolve) => res.once('close', resolve));
  await end();
}
