// Micro-benchmark of the Publisher's batch encoding (issue 6): what it costs per event to go from
// a received line's bytes to a ZeroMQ message, as publisher.ts does it and as it could be done.
//   strings        what happens now: the text decoded to a string, the event joined from pieces
//                  (cons strings) as `logyard receive` does, the wire line `key event`, then per
//                  batch encodeBatch (one join, which flattens them) and send(string), which
//                  zeromq.js turns into UTF-8 in native code (a length pass, then a copy)
//   strings+Buffer the same, but Buffer.from(batch) once and send(Buffer) (zero-copy > 128 bytes)
//   bytes          no strings: key, event prefix, the text's bytes and the cached tail copied
//                  straight into the batch's Buffer, which is sent as it is
// Events are ~350-byte syslog events in batches of at most 2048 events / 96 KiB, as the publisher
// cuts them; a PULL socket in the same process takes them, so ZeroMQ's own work is counted too.
// Usage: node scripts/bench/publisher-encoding.mjs [--events N] [--rounds R]
import { Pull, Push } from 'zeromq';
import { parseArgs } from 'node:util';
import { encodeBatch, wireLine, WIRE_MAGIC } from '../../packages/bus/dist/wire.js';

const { values: opts } = parseArgs({ options: { events: { type: 'string', default: '1000000' }, rounds: { type: 'string', default: '5' } } });
const EVENTS = Number(opts.events);
const ROUNDS = Number(opts.rounds);
const MAX_EVENTS = 2048;
const MAX_BYTES = 96 * 1024;

// The input as the receiver holds it: one chunk of texts, each event a range of it.
const pad = 'x'.repeat(130);
const texts = Array.from({ length: 1000 }, (_, i) => `request ${i} ${pad}`);
const input = Buffer.from(texts.join(''));
const ranges = [];
for (let i = 0, pos = 0; i < texts.length; pos += texts[i].length, i++) ranges.push([pos, pos + texts[i].length]);
const keys = Array.from({ length: 20 }, (_, i) => `syslog.web-${i}`);
const tails = Array.from({ length: 20 }, (_, i) => `","node_id":"bench","unix_time":1763679600.123,"human_time":"2025-11-20T23:00:00.123+00:00","syslog":{"facility":"daemon","severity":"info","hostname":"host","appname":"web-${i}","procid":"1234","msgid":null,"timestamp":"Nov 20 10:00:00"}}`);
const keyBytes = keys.map((k) => Buffer.from(k + ' {"text":"'));
const tailBytes = tails.map((t) => Buffer.from(t + '\n'));

/** Per batch: encode(count of events, first event index) -> what is sent. */
const encoders = {
  strings: (first, count) => encodeBatch(stringLines(first, count)),
  'strings+Buffer': (first, count) => Buffer.from(encodeBatch(stringLines(first, count))),
  bytes: (first, count) => {
    const batch = Buffer.allocUnsafeSlow(MAX_BYTES + 4096);
    let pos = batch.write(WIRE_MAGIC, 0, 'latin1');
    for (let i = first; i < first + count; i++) {
      const [start, end] = ranges[i % 1000];
      pos += keyBytes[i % 20].copy(batch, pos);
      pos += input.copy(batch, pos, start, end);
      pos += tailBytes[i % 20].copy(batch, pos);
    }
    return batch.subarray(0, pos);
  },
};

function stringLines(first, count) {
  const lines = [];
  for (let i = first; i < first + count; i++) {
    const [start, end] = ranges[i % 1000];
    lines.push(wireLine(keys[i % 20], '{"text":"' + input.toString('latin1', start, end) + tails[i % 20]));
  }
  return lines;
}

const endpoint = `ipc:///tmp/ly-publisher-encoding-${process.pid}`;
const pull = new Pull();
await pull.bind(endpoint);
const push = new Push({ sendHighWaterMark: 64 });
push.connect(endpoint);
let bytesReceived = 0;
const pulling = (async () => {
  try {
    for await (const [msg] of pull) bytesReceived += msg.length;
  } catch {
    // The socket closed at the end of the run.
  }
})();

// ~350 bytes an event: batches are cut by the byte limit before the event limit.
const perBatch = Math.min(MAX_EVENTS, Math.floor(MAX_BYTES / 350));
const results = {};
for (let round = 0; round < ROUNDS; round++) {
  for (const [name, encode] of Object.entries(encoders)) {
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    for (let first = 0; first < EVENTS; first += perBatch) await push.send(encode(first, Math.min(perBatch, EVENTS - first)));
    const cpu = process.cpuUsage(cpu0);
    (results[name] ??= []).push({ wall: ((performance.now() - t0) * 1000) / EVENTS, cpu: (cpu.user + cpu.system) / EVENTS });
  }
}
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
console.log(`${EVENTS} events of ~350 bytes, ${perBatch} a batch, median of ${ROUNDS} rounds`);
console.log('  encoding         wall µs/event   CPU µs/event (ZeroMQ threads and the PULL side included)');
const out = {};
for (const [name, rs] of Object.entries(results)) {
  out[name] = { wall_us: +median(rs.map((r) => r.wall)).toFixed(3), cpu_us: +median(rs.map((r) => r.cpu)).toFixed(3) };
  console.log(`  ${name.padEnd(15)} ${String(out[name].wall_us).padStart(13)} ${String(out[name].cpu_us).padStart(14)}`);
}
console.log(JSON.stringify({ bench: 'publisher-encoding', events: EVENTS, per_batch: perBatch, ...out }));
push.close();
pull.close();
await pulling;
