// Benchmark load: publishes COUNT events of about 200 bytes under KEY as fast as the core takes them.
import { Publisher } from '@logyard/bus';

const [runDir, key, countArg] = process.argv.slice(2);
const count = Number(countArg);
const publisher = new Publisher({ runDir, nodeId: 'bench-node', maxQueuedEvents: 200_000 });
if (!(await publisher.waitConnected(5000))) {
  console.error('publisher: no core');
  process.exit(1);
}
// text of 110 chars + key and stamped fields = ~200 bytes on the wire
const filler = 'x'.repeat(100);
// When publishing began (ms since the epoch): benchmarks time from here, not from node's start.
const started = performance.timeOrigin + performance.now();
for (let i = 0; i < count; i++) {
  publisher.publish(key, `${String(i).padStart(9, '0')} ${filler}`);
  if ((i & 4095) === 0 && publisher.stats().queued > 100_000) await publisher.flush(60_000);
}
await publisher.close(60_000);
const dropped = Object.values(publisher.stats().dropped).reduce((a, b) => a + b, 0);
process.stdout.write(JSON.stringify({ started, dropped, sent: publisher.stats().sent, published: publisher.stats().published }) + "\n");
