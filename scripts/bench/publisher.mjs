// Benchmark load: publishes COUNT events of about 200 bytes under KEY as fast as the core takes them.
// PUB_BATCH=BYTES (environment) sets the Publisher's maxBatchBytes (and 16384 events), to compare batch sizes.
// LY_BUS=PATH (environment): the @logyard/bus module to publish with (another build's
// packages/bus/dist/index.js, for core.mjs --base).
// PUB_INPUT=bytes (environment): the lines are published from their bytes (publishLineBytes, as
// systail and apptail publish a file's lines) instead of as strings (publish).
//
// The publisher is kept busy without a pause in the pipeline: this loop used to wait, every
// 100,000 events, until the core had confirmed all of them (flush), so the publisher and the core
// took turns instead of working at once (in 3 alternated runs, load 4-6: 1.04-1.17 million
// events/s so, 1.21-1.66 million with the loop below).
//
// The texts are made before publishing starts, as a tailing client holds them: slices of one
// decoded chunk of lines (LineSplitter's strings). Making a new string per event here (a number
// padded and joined to the filler) cost this process about 0.2 CPU-s per million events, which
// the publisher's figure then counted as its own.
const { Publisher } = await import(process.env.LY_BUS ?? '@logyard/bus');

const [runDir, key, countArg] = process.argv.slice(2);
const count = Number(countArg);
const publisher = new Publisher({ runDir, nodeId: 'bench-node', maxQueuedEvents: 200_000, ...(process.env.PUB_BATCH ? { maxBatchBytes: Number(process.env.PUB_BATCH), maxBatchEvents: 16384 } : {}) });
if (!(await publisher.waitConnected(5000))) {
  console.error('publisher: no core');
  process.exit(1);
}
// text of 110 chars + key and stamped fields = ~200 bytes on the wire; 8192 different texts
const TEXTS = 8192;
const filler = 'x'.repeat(100);
const chunk = Array.from({ length: TEXTS }, (_, i) => `${String(i).padStart(9, '0')} ${filler}`).join('\n');
const texts = [];
for (let start = 0; start < chunk.length; start += 111) texts.push(chunk.slice(start, start + 110));
const bytes = Buffer.from(chunk);
const fromBytes = process.env.PUB_INPUT === 'bytes';
if (fromBytes && !publisher.publishLineBytes) {
  console.error('publisher: this build has no publishLineBytes');
  process.exit(1);
}
// When publishing began (ms since the epoch): benchmarks time from here, not from node's start.
const started = performance.timeOrigin + performance.now();
const cpuAtStart = process.cpuUsage();
for (let i = 0; i < count; i++) {
  if (fromBytes) {
    const start = (i & (TEXTS - 1)) * 111;
    publisher.publishLineBytes(key, bytes, start, start + 110);
  } else {
    publisher.publish(key, texts[i & (TEXTS - 1)]);
  }
  if ((i & 4095) === 4095) {
    // As a client reading a file does: a chunk of lines, then the event loop, which sends the
    // batches while the next chunk is published; past 100,000 events held, wait until half went.
    await new Promise((resolve) => setImmediate(resolve));
    if (publisher.stats().queued > 100_000) while (publisher.stats().queued > 50_000) await new Promise((resolve) => setTimeout(resolve, 1));
  }
}
await publisher.close(60_000);
// Until the core confirmed the last event; CPU of this whole process (user + system) over the same span.
const seconds = (performance.timeOrigin + performance.now() - started) / 1000;
const cpu = process.cpuUsage(cpuAtStart);
const dropped = Object.values(publisher.stats().dropped).reduce((a, b) => a + b, 0);
process.stdout.write(
  JSON.stringify({ started, seconds, cpu_s: (cpu.user + cpu.system) / 1e6, dropped, sent: publisher.stats().sent, published: publisher.stats().published }) + '\n',
);
