import { BatchBuilder, decodeLines, EventPrefix, forEachEvent, WIRE_MAGIC, type MalformedReason, type WireBatch, type WireRun } from '@logyard/bus';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FrameRouter, type RunSink } from '../src/frame-router.js';
import { PrefixIndex } from '../src/prefix-index.js';

/** A sink that keeps what it is handed as strings, checking each run is its lines' bytes one after another. */
class Kept implements RunSink {
  readonly events: string[] = [];
  pushRun(run: WireRun): void {
    const lines: string[] = [];
    forEachEvent(run, (key, json) => lines.push(`${key} ${json}\n`));
    expect(run.frame.toString('utf8', run.start, run.end)).toBe(lines.join(''));
    this.events.push(...lines);
  }
}

/** A FrameRouter to a Kept sink per prefix, and the counts it gives. */
function routerTo(prefixes: string[]): { router: FrameRouter; sinks: Kept[]; counted: Map<string, number>; malformed: Partial<Record<MalformedReason, number>> } {
  const index = new PrefixIndex<Kept>();
  const sinks = prefixes.map(() => new Kept());
  prefixes.forEach((prefix, i) => index.add(prefix, sinks[i]));
  const counted = new Map<string, number>();
  const malformed: Partial<Record<MalformedReason, number>> = {};
  const router = new FrameRouter({
    sinksFor: (key) => index.match(key),
    version: () => index.version,
    counted: (key, events) => counted.set(key, (counted.get(key) ?? 0) + events),
    malformed: (reason, count) => (malformed[reason] = (malformed[reason] ?? 0) + count),
  });
  return { router, sinks, counted, malformed };
}

/** Routes batches of `lines` through a FrameRouter, and the same lines through the string reader (decodeLines), and compares. */
function routeBoth(batches: string[][], prefixes: string[]): void {
  const { router, sinks, counted, malformed } = routerTo(prefixes);
  let taken = 0;
  for (const batch of batches) taken += router.route(Buffer.from(WIRE_MAGIC + batch.join('\n') + '\n'), Number.POSITIVE_INFINITY);

  const want = prefixes.map(() => [] as string[]);
  const wantCounted = new Map<string, number>();
  const wantMalformed: Partial<Record<MalformedReason, number>> = {};
  let unrouted = 0;
  let good = 0;
  for (const batch of batches) {
    good += decodeLines(batch.join('\n'), {
      event: (key, json) => {
        wantCounted.set(key, (wantCounted.get(key) ?? 0) + 1);
        let matched = 0;
        prefixes.forEach((prefix, i) => {
          if (key.startsWith(prefix)) (want[i].push(`${key} ${json}\n`), matched++);
        });
        if (matched === 0) unrouted++;
      },
      malformed: (reason, count) => (wantMalformed[reason] = (wantMalformed[reason] ?? 0) + count),
    });
  }
  expect(taken).toBe(good);
  expect(sinks.map((s) => s.events)).toEqual(want);
  expect(counted).toEqual(wantCounted);
  expect(malformed).toEqual(wantMalformed);
  expect(router.unrouted).toBe(unrouted);
}

const key = fc.constantFrom('syslog.web-1', 'syslog.web-2', 'syslog.db', 'app.x', 'app.x.y', 'systail.kern.n1');
const json = fc.string({ maxLength: 40 }).map((text) => JSON.stringify({ text }));
const line = fc.oneof(
  { weight: 8, arbitrary: fc.tuple(key, json).map(([k, j]) => `${k} ${j}`) },
  // What the core refuses or skips: bad keys, lines that are no object, blank lines.
  { weight: 1, arbitrary: fc.constantFrom('bad!key {"text":"x"}', 'syslog.web-1 not-json', 'nospace', '', ' {"text":"no key"}', 'syslog.web-1 {}') },
);
const prefix = fc.constantFrom('', 'syslog', 'syslog.web-1', 'app.x', 'app', 'none');

describe('FrameRouter', () => {
  it('hands each sink the lines its prefix matches, in order, and counts keys, unrouted and malformed lines as the string reader does', () => {
    fc.assert(
      fc.property(fc.array(fc.array(line, { maxLength: 60 }), { minLength: 1, maxLength: 4 }), fc.array(prefix, { maxLength: 4 }), (batches, prefixes) => routeBoth(batches, prefixes)),
      { numRuns: 300 },
    );
  });

  it('routes a batch its builder indexed (WireBatch.lines) as it routes the same bytes read line by line, for two routers sharing the prefixes', () => {
    // Prefixes as a receiver keeps them, a bad key and a head that makes no object among them.
    const prefixes = [
      new EventPrefix('syslog.web-1', '{"text":"', true),
      new EventPrefix('syslog.web-2', '{"text":"', true),
      new EventPrefix('app.x', '{"text":"'),
      new EventPrefix('bad!key', '{"text":"'),
      new EventPrefix('syslog.db', 'x"'),
    ];
    const event = fc.oneof(
      { weight: 40, arbitrary: fc.tuple(fc.nat(prefixes.length - 1), fc.string({ unit: fc.integer({ min: 0x20, max: 0x7e }).filter((c) => c !== 0x22 && c !== 0x5c).map((c) => String.fromCharCode(c)), maxLength: 30 })) },
      // An event given as a string: its batch is not indexed.
      { weight: 1, arbitrary: fc.constant(null) },
    );
    let indexedBatches = 0;
    fc.assert(
      fc.property(fc.array(event, { maxLength: 80 }), fc.array(prefix, { maxLength: 3 }), fc.integer({ min: 20, max: 60 }), (events, sinkPrefixes, maxEvent) => {
        const builder = new BatchBuilder(16, 600, false, { indexed: true });
        const tail = Buffer.from('","n":1}');
        for (const e of events) {
          if (e === null) builder.append('app.x', '{"text":"given"}');
          else builder.appendPieces(prefixes[e[0]], Buffer.from(e[1]), 0, e[1].length, tail);
        }
        const batches: WireBatch[] = [];
        for (let batch = builder.take(); batch; batch = builder.take()) batches.push(batch);
        indexedBatches += batches.filter((b) => b.lines !== undefined).length;
        const outcome = (indexed: boolean) => {
          const { router, sinks, counted, malformed } = routerTo(sinkPrefixes);
          let taken = 0;
          for (const b of batches) taken += router.route(b.body, maxEvent, b.knownValid, indexed ? b.lines : undefined);
          return { taken, events: sinks.map((s) => s.events), counted, malformed, unrouted: router.unrouted };
        };
        const read = outcome(false);
        expect(outcome(true)).toEqual(read);
        expect(outcome(true)).toEqual(read);
      }),
      { numRuns: 300 },
    );
    expect(indexedBatches).toBeGreaterThan(150);
  });

  it('tells keys apart when more of them come than its table holds (slots taken over)', () => {
    const keys = Array.from({ length: 10_000 }, (_, i) => `k${i}.x`);
    const batch = keys.flatMap((k, i) => [`${k} {"n":${i}}`, `k${(i * 7919) % 10_000}.x {"m":${i}}`]);
    routeBoth([batch.slice(0, 9000), batch.slice(9000)], ['k1', 'k', 'k99']);
  });

  it('routes to drains added and removed between batches', () => {
    const index = new PrefixIndex<Kept>();
    const a = new Kept();
    const b = new Kept();
    index.add('syslog', a);
    const router = new FrameRouter({ sinksFor: (k) => index.match(k), version: () => index.version, counted: () => {}, malformed: () => {} });
    const batch = (n: number): Buffer => Buffer.from(`${WIRE_MAGIC}syslog.a {"n":${n}}\nsyslog.b {"n":${n}}\n`);
    router.route(batch(1), 1000);
    index.add('syslog.b', b);
    router.route(batch(2), 1000);
    index.remove('syslog', a);
    router.route(batch(3), 1000);
    expect(a.events).toEqual(['syslog.a {"n":1}\n', 'syslog.b {"n":1}\n', 'syslog.a {"n":2}\n', 'syslog.b {"n":2}\n']);
    expect(b.events).toEqual(['syslog.b {"n":2}\n', 'syslog.b {"n":3}\n']);
    expect(router.unrouted).toBe(1);
  });
});
