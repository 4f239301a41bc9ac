// The core's side of the syslog benchmark, in one process and without sockets: batches as the
// in-core syslog receiver writes them (~385-byte events of 20 tags alternating line by line,
// 8,192 lines or 512 KiB a batch) -> decode and route (FrameRouter, or decodeWire and a prefix
// lookup per run in a checkout from before it) -> one drain's EventBuffer -> takeBytes -> the
// `{{text}}` ByteTemplate. Prints CPU seconds per million lines (process.cpuUsage, median of 5
// passes after 2 warm-up passes), which stays comparable on a busy machine where lines/s do not.
// Usage: node scripts/bench/syslog-core.mjs [CHECKOUT] [LINES]   (default: this checkout, 500,000)
//   MODE=route: without the template (decode, route, buffer and takeBytes only).
//   KNOWN_VALID=0: the batches routed as publish.sock's are (not marked known valid), every line checked.
// Run it once per checkout (e.g. a worktree of the code before a change, built with npx tsc -b).
// The batches here are decoded line by line (decodeFrame), as publish.sock's are; the in-core
// receivers' batches carry their lines (bus WireBatch.lines) and skip that: syslog-pipeline.mjs
// measures the in-core pipeline as it runs, receive side included.
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
const root = resolve(process.argv[2] ?? join(dirname(fileURLToPath(import.meta.url)), '../..'));
const LINES = Number(process.argv[3] ?? 500_000);
const bus = await import(`${root}/packages/bus/dist/index.js`);
const { EventBuffer } = await import(`${root}/packages/drains/dist/buffer.js`);
const { compileByteTemplate } = await import(`${root}/packages/drains/dist/formats.js`);
const { PrefixIndex } = await import(`${root}/packages/core/dist/prefix-index.js`);
const { KeyStats } = await import(`${root}/packages/core/dist/key-stats.js`);
const KNOWN_VALID = process.env.KNOWN_VALID !== '0';
const hasRouter = existsSync(`${root}/packages/core/dist/frame-router.js`);
const stamp = bus.stampedMembersNow('bench');
const pad = 'x'.repeat(130);
// Frames of 8192 lines max / 512 KiB as the BatchBuilder makes them.
const frames = [];
let lines = [];
let bytes = 0;
for (let i = 0; i < LINES; i++) {
  const key = `syslog.web-${i % 20}`;
  const json = `{"text":"request ${i} ${pad}"${stamp},"syslog":{"facility":"daemon","severity":"info","hostname":"host","appname":"web-${i % 20}","procid":"1234","msgid":null,"timestamp":"Nov 20 10:00:00"}}`;
  const line = key + ' ' + json;
  if (lines.length === 8192 || bytes + line.length > 512 * 1024) {
    frames.push(Buffer.from(bus.encodeBatch(lines)));
    lines = [];
    bytes = 0;
  }
  lines.push(line);
  bytes += line.length + 1;
}
frames.push(Buffer.from(bus.encodeBatch(lines)));
const buffer = new EventBuffer(100_000);
const template = compileByteTemplate('{{text}}', {});
const drain = { pushRun: (run, first, count) => buffer.pushRun(run, first, count) };
const index = new PrefixIndex();
index.add('syslog', drain);
const keyStats = new KeyStats();
let route;
if (hasRouter) {
  const { FrameRouter } = await import(`${root}/packages/core/dist/frame-router.js`);
  const router = new FrameRouter({ sinksFor: (k) => index.match(k), version: () => index.version, counted: (k, n) => keyStats.count(k, n), malformed: () => {} });
  // The receiver's batches are marked known valid (bus WireBatch.knownValid); a checkout from
  // before the mark takes no third argument and checks every line.
  route = (f) => router.route(f, 1 << 20, KNOWN_VALID);
} else {
  const sink = {
    run: (run) => {
      keyStats.count(run.key, run.count);
      for (const d of index.match(run.key)) d.pushRun(run);
    },
    malformed: () => {},
  };
  route = (f) => bus.decodeWire(f, sink, 1 << 20);
}
const mode = process.env.MODE ?? 'all';
function pass() {
  let out = 0;
  for (const f of frames) {
    route(f);
    keyStats.endRun();
    while (buffer.length > 0) {
      const newApi = template.roomPerEvent !== undefined;
      const batch = newApi ? buffer.takeBytes(4096, false, template.roomPerEvent) : buffer.takeBytes(4096, false);
      let o = null;
      if (mode !== 'route') {
        o = newApi ? template.format(batch) : template.format(batch.wire, batch.lineBytes, batch.keyBytes, batch.count);
        out += o.length;
      }
      EventBuffer.sent(batch);
      if (o) template.constructor.done(o, batch);
    }
  }
  return out;
}
pass(); pass();
const results = [];
for (let r = 0; r < 5; r++) {
  const c0 = process.cpuUsage();
  pass();
  const c = process.cpuUsage(c0);
  results.push(((c.user + c.system) / 1e6) / (LINES / 1e6));
}
results.sort((a, b) => a - b);
console.log(`${root} (${mode === 'route' ? 'without the template' : 'with the {{text}} template'}${KNOWN_VALID ? '' : ', KNOWN_VALID=0'}): ${results[2].toFixed(3)} CPU s per million lines, median of 5 (least ${results[0].toFixed(3)})`);
