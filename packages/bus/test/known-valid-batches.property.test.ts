// A publisher's batch is marked known valid (WireBatch.knownValid; the " v" of its header on
// publish.sock) only when each of its events is exactly what JSON.stringify writes for it: the
// core's drains then find a template's fields without checking the event. These properties hold
// every path of the publishers' shared intake (EventIntake, here through a DirectPublisher, which
// hands over its batches as the Publisher sends them) to that, and check that it marks what it
// can: text events with members that keep them so.
import fc from 'fast-check';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Router } from 'zeromq';
import { ackFrame, corePaths, decodeBatch, DirectPublisher, parseIngestHeader, Publisher, type WireBatch } from '../src/index.js';
import { isJsonObject } from '../src/json-check.js';

/** Members a client may pass with its text lines, and whether the event stays as JSON.stringify writes it. */
const MEMBERS: Array<[string, boolean]> = [
  ['', true],
  [',"name":"nginx"', true],
  [',"name":"é \\"x\\" \\\\ \\n","n":-1.5,"a":[1,{"b":null}]', true],
  [', "name":"spaced"', false],
  [',"text":"twice"', false],
  [',"node_id":"twice"', false],
  [',"1":"moved first by JSON.parse"', false],
  [',"n":1.50', false],
  [',"e":"\\u00e9"', false],
  [',"broken":', false],
];

/** Texts with what JSON escapes: quotes, backslashes, control characters, lone surrogates, any Unicode. */
const text = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 120 }),
  fc.string({ unit: fc.constantFrom('a', ' ', '"', '\\', '\t', '\n', '\x01', '\x7f', 'é', '€', '𝄞', '\ud800', '\udc00', '{', '}'), maxLength: 120 }),
);

type Op =
  | { kind: 'line'; text: string; members: number; unixTime?: number }
  | { kind: 'bytes'; text: string; members: number }
  | { kind: 'string'; text: string }
  | { kind: 'object'; fields: Record<string, unknown> }
  | { kind: 'odd'; which: number }
  | { kind: 'json'; fields: Record<string, unknown> };

/** Objects that are not written as an event object by JSON.stringify alone, or have no text of their own. */
function oddFields(which: number): Record<string, unknown> {
  const fields: Array<() => Record<string, unknown>> = [
    () => Object.assign(['a'], { text: 'an array' }) as unknown as Record<string, unknown>,
    () => ({ text: 'x', toJSON: () => 'a string' }),
    () => ({ text: 'x', toJSON: () => [1] }),
    () => Object.defineProperty({}, 'text', { value: 'hidden', enumerable: false }),
    () => Object.create({ text: 'inherited' }) as Record<string, unknown>,
    () => ({ text: 'x', when: new Date(0), big: undefined, f: () => 1 }),
  ];
  return fields[which % fields.length]();
}

const members = fc.nat({ max: MEMBERS.length - 1 });
const op: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ kind: fc.constant('line' as const), text, members, unixTime: fc.option(fc.oneof(fc.integer({ min: 0, max: 2e9 }), fc.double({ min: 0, max: 2e9, noNaN: true }), fc.constantFrom(NaN, Infinity)), { nil: undefined }) }),
  fc.record({ kind: fc.constant('odd' as const), which: fc.nat() }),
  fc.record({ kind: fc.constant('bytes' as const), text, members }),
  fc.record({ kind: fc.constant('string' as const), text }),
  fc.record({ kind: fc.constant('object' as const), fields: fc.record({ text, n: fc.double(), s: text }) }),
  fc.record({ kind: fc.constant('json' as const), fields: fc.record({ text, node_id: fc.constant('x'), unix_time: fc.constant(1), human_time: fc.constant('t') }) }),
);

/** Whether the intake writes this op's events itself as JSON.stringify would (and so marks them). */
function written(o: Op): boolean {
  if (o.kind === 'line' || o.kind === 'bytes') return MEMBERS[o.members][1];
  return o.kind === 'string';
}

/** Publishes the op's event(s); false when the publisher refused it (an object longer than max_event). */
function publishOp(publisher: DirectPublisher, o: Op): boolean {
  if (o.kind === 'line') return publisher.publishLine('app.x', o.text, MEMBERS[o.members][0], o.unixTime);
  if (o.kind === 'bytes') {
    const bytes = Buffer.concat([Buffer.from('pad'), Buffer.from(o.text), Buffer.from('pad')]);
    return publisher.publishLineBytes('app.x', bytes, 3, bytes.length - 3, MEMBERS[o.members][0]);
  }
  if (o.kind === 'string') return publisher.publish('app.x', o.text);
  if (o.kind === 'object') return publisher.publish('app.x', o.fields);
  if (o.kind === 'odd') return publisher.publish('app.x', oddFields(o.which));
  return publisher.publishJson('app.x', JSON.stringify(o.fields));
}

function eventsOf(batch: Buffer): string[] {
  const events: string[] = [];
  decodeBatch(batch, { event: (_key, json) => events.push(json), malformed: () => expect.fail('malformed batch') });
  return events;
}

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

describe('known-valid batches of the publishers', () => {
  it('marks a batch only when each of its events is what JSON.stringify writes for it, and marks every batch of text events with such members', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(op, { minLength: 1, maxLength: 30 }), fc.constantFrom(160, 400, 1 << 20), async (ops, maxEvent) => {
        const delivered: WireBatch[] = [];
        const publisher = new DirectPublisher({ nodeId: 'n"é', maxEvent, deliver: (batches) => delivered.push(...batches.map((b) => ({ ...b, body: Buffer.from(b.body) }))) });
        const taken = ops.filter((o) => publishOp(publisher, o));
        await new Promise((resolve) => setImmediate(resolve));
        await publisher.close();
        // Texts are cut at max_event, objects longer are refused: what was taken goes as one batch.
        expect(delivered.length).toBe(taken.length > 0 ? 1 : 0);
        if (taken.length === 0) return;
        const [batch] = delivered;
        expect(batch.knownValid).toBe(taken.every(written));
        if (batch.knownValid) for (const json of eventsOf(batch.body)) expect(json).toBe(JSON.stringify(JSON.parse(json)));
        // Marked or not, every event is one JSON object (the Publisher says " j" of every batch).
        for (const json of eventsOf(batch.body)) expect(isJsonObject(Buffer.from(json), 0, Buffer.byteLength(json)), json).toBe(true);
      }),
      { numRuns: 400 },
    );
  });

  it('the Publisher says so in the header of the batch on publish.sock', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ly-bus-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const core = new Router();
    cleanups.push(() => core.close());
    await core.bind(corePaths(dir).publishEndpoint);
    const publisher = new Publisher({ runDir: dir, nodeId: 'n1' });
    cleanups.push(() => publisher.close(10));
    let seq = 0;
    const next = async (): Promise<{ knownValid: boolean; checked: boolean; events: string[] }> => {
      for (;;) {
        const [id, header, body] = await core.receive();
        const parsed = parseIngestHeader(header);
        if (parsed?.kind !== 'batch') throw new Error(`not a batch header: ${header.toString()}`);
        // Confirmed as the core does; a batch sent again (after the connection came up) skipped as the core skips it.
        await core.send([id, ackFrame({ kind: 'batch', next: parsed.seq + parsed.count })]);
        if (parsed.seq < seq) continue;
        seq = parsed.seq + parsed.count;
        return { knownValid: parsed.knownValid, checked: parsed.checked, events: eventsOf(body) };
      }
    };
    publisher.publishLine('app.x', 'a "quoted" line\twith é', ',"name":"nginx"');
    const marked = await next();
    expect(marked).toMatchObject({ knownValid: true, checked: true });
    expect(JSON.parse(marked.events[0])).toMatchObject({ text: 'a "quoted" line\twith é', name: 'nginx' });
    // An event given as JSON is the caller's, who vouches that it is JSON: the batch says so, not more.
    publisher.publishJson('app.x', '{"text":"given", "spaced":1}');
    expect(await next()).toEqual({ knownValid: false, checked: true, events: ['{"text":"given", "spaced":1}'] });
  });
});
