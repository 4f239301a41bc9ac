#!/usr/bin/env node --expose-gc
// The memory a slow, narrow drain costs while it holds 10,000 events (issue 10: a buffered event
// must not keep its whole batch alive): the JS heap and the bytes of ArrayBuffers (a drain keeps
// its events as bytes in buffers of its own). Batches go through the bus's own decodeWire and
// Drain.pushRun, as in the core; one event of each batch matches the drain's filter; the target
// accepts the connection and never reads, so after the kernel's socket buffer is full every event
// waits in the drain's buffer.
//
//   npm run build && node --expose-gc scripts/drain-heap.mjs
import { createServer } from 'node:net';
import { decodeWire, encodeBatch, textEventJson, wireLine } from '@logyard/bus';
import { Drain } from '@logyard/drains';

const HELD = 10_000;
const EVENTS_PER_BATCH = 50;
const TEXT = 'x'.repeat(150);

if (typeof globalThis.gc !== 'function') {
  console.error('run with node --expose-gc');
  process.exit(2);
}

const sockets = [];
const server = createServer((socket) => {
  socket.pause(); // a target that stopped reading
  sockets.push(socket);
});
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
const drain = new Drain('narrow', `tcp://127.0.0.1:${server.address().port}?filter=narrow&buffer=${2 * HELD}`, {
  nodeId: 'heap-node',
  formats: {},
  fileDrainRoots: [],
});
drain.start();
while (drain.status().state !== 'RUNNING') await new Promise((resolve) => setTimeout(resolve, 10));

const heapUsed = () => {
  globalThis.gc();
  globalThis.gc();
  const { heapUsed, arrayBuffers } = process.memoryUsage();
  return heapUsed + arrayBuffers;
};
const before = heapUsed();

// Pushes until HELD events wait in the buffer (those the kernel took first are not counted).
const sink = {
  run: (run) => {
    if (run.keys[run.first].key.startsWith('narrow')) drain.pushRun(run);
  },
  malformed: () => undefined,
};
let batches = 0;
while (drain.status().buffered < HELD) {
  const lines = [];
  for (let i = 0; i < EVENTS_PER_BATCH; i++) {
    const key = i === 0 ? 'narrow.app.heap-node' : 'wide.app.heap-node';
    lines.push(wireLine(key, textEventJson(`${TEXT} ${batches} ${i}`, 'heap-node')));
  }
  decodeWire(Buffer.from(encodeBatch(lines)), sink);
  batches++;
  if (batches % 500 === 0) await new Promise((resolve) => setImmediate(resolve)); // let the drain write
}
const after = heapUsed();
const status = drain.status();
const mib = (bytes) => (bytes / 2 ** 20).toFixed(1);
console.log(
  `batches ${batches} of ${EVENTS_PER_BATCH} events; drain buffered ${status.buffered}, sent ${status.sent}; ` +
    `heap + array buffers ${mib(before)} MiB -> ${mib(after)} MiB (+${mib(after - before)} MiB, ${Math.round((after - before) / status.buffered)} bytes per held event)`,
);
for (const socket of sockets) socket.destroy();
await drain.close();
server.close();
