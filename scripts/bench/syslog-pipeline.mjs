// The whole in-core syslog pipeline in one process, without sockets: the receive.mjs input (RFC 3164
// lines of ~200 bytes, 20 tags alternating line by line) in chunks of 64 KiB, as a TCP socket
// reads them -> FrameDecoder -> SyslogInput -> DirectPublisher (one delivery per turn of the
// event loop) -> FrameRouter -> one drain's EventBuffer -> takeBytes -> the `{{text}}`
// ByteTemplate. Prints CPU seconds per million lines (process.cpuUsage, median of 7 passes after 2
// warm-up passes): what receive.mjs's in-core row spends besides the kernel's socket work, and
// comparable on a busy machine where lines/s are not. syslog-core.mjs measures the core's side alone.
// Usage: node scripts/bench/syslog-pipeline.mjs [CHECKOUT] [LINES]   (default: this checkout, 300,000)
//   MODE=receive: the receive side only (delivered batches are dropped); MODE=route: without the template.
//   HASH=1: one pass, printing the output's bytes and SHA-256 (the same for two builds that write the same).
// Run it with the executable's V8 flags to measure what users run, e.g.
//   node --max-semi-space-size=4 --single-threaded-gc scripts/bench/syslog-pipeline.mjs
// once per checkout (e.g. a worktree of the code before a change, built with npx tsc -b).
import { createHash } from 'node:crypto';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(process.argv[2] ?? join(dirname(fileURLToPath(import.meta.url)), '../..'));
const LINES = Number(process.argv[3] ?? 300_000);
const MODE = process.env.MODE ?? 'all';
const bus = await import(`${root}/packages/bus/dist/index.js`);
const { SyslogInput } = await import(`${root}/packages/receive/dist/syslog-input.js`);
const { FrameDecoder } = await import(`${root}/packages/receive/dist/framing.js`);
const { EventBuffer } = await import(`${root}/packages/drains/dist/buffer.js`);
const { compileByteTemplate } = await import(`${root}/packages/drains/dist/formats.js`);
const { PrefixIndex } = await import(`${root}/packages/core/dist/prefix-index.js`);
const { KeyStats } = await import(`${root}/packages/core/dist/key-stats.js`);
const { FrameRouter } = await import(`${root}/packages/core/dist/frame-router.js`);

const pad = 'x'.repeat(130);
const lines = [];
for (let i = 0; i < LINES; i++) lines.push(`<30>Nov 20 10:00:00 host web-${i % 20}[1234]: request ${i} ${pad}\n`);
const input = Buffer.from(lines.join(''));
const chunks = [];
for (let at = 0; at < input.length; at += 65536) chunks.push(input.subarray(at, at + 65536));

const buffer = new EventBuffer(100_000);
const template = compileByteTemplate('{{text}}', {});
const index = new PrefixIndex();
index.add('syslog', { pushRun: (run, first, count) => buffer.pushRun(run, first, count) });
const keyStats = new KeyStats();
const router = new FrameRouter({ sinksFor: (k) => index.match(k), version: () => index.version, counted: (k, n) => keyStats.count(k, n), malformed: () => {} });
const publisher = new bus.DirectPublisher({
  nodeId: 'bench',
  maxEvent: 1 << 20,
  deliver: (batches) => {
    if (MODE === 'receive') return;
    // As the core's directPublisher delivers (a checkout from before the index takes three arguments).
    for (const b of batches) router.route(b.body, 1 << 20, b.knownValid, b.lines);
    keyStats.endRun();
  },
});
const limiter = new bus.RateLimiter({ rate: 1e9, burst: 1e9 });
const syslog = new SyslogInput({ publisher, limiter, maxEvent: 1 << 20, malformed: (reason) => { throw new Error(`malformed ${reason}`); } });
const decoder = new FrameDecoder(syslog.connection({ uri: 'bench' }), syslog.framing());
const turn = () => new Promise((r) => setImmediate(r));

async function pass(hash) {
  let out = 0;
  for (const chunk of chunks) {
    decoder.push(chunk);
    await turn();
    while (buffer.length > 0) {
      const batch = buffer.takeBytes(4096, false, template.roomPerEvent);
      if (MODE !== 'route') {
        const o = template.format(batch);
        out += o.length;
        hash?.update(o);
        EventBuffer.sent(batch);
        template.constructor.done(o, batch);
      } else {
        EventBuffer.sent(batch);
      }
    }
  }
  return out;
}

if (process.env.HASH === '1') {
  const hash = createHash('sha256');
  const bytes = await pass(hash);
  console.log(`${root}: ${bytes} bytes out, sha256 ${hash.digest('hex')}`);
} else {
  await pass();
  await pass();
  const results = [];
  for (let r = 0; r < 7; r++) {
    const c0 = process.cpuUsage();
    await pass();
    const c = process.cpuUsage(c0);
    results.push((c.user + c.system) / 1e6 / (LINES / 1e6));
  }
  results.sort((a, b) => a - b);
  console.log(`${root} (${MODE === 'all' ? 'receive, route, {{text}}' : MODE}): ${results[3].toFixed(3)} CPU s per million lines, median of 7 (least ${results[0].toFixed(3)})`);
}
