import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import type { DrainState, NodeStatus } from '../src/index.js';
import { decodeNodeStatus, drainStatusRows, encodeNodeStatus, NodeStatusEncoder, withUpdated } from '../src/node-status.js';

/** What a reader gets back for `drain`: the fields left out of the document read as 0 and {}, and reasons still at 0 are not listed. */
function asRead(drain: DrainState): DrainState {
  return {
    state: drain.state,
    ...(drain.error === undefined ? {} : { error: drain.error }),
    sent: drain.sent,
    dropped: Object.fromEntries(Object.entries(drain.dropped).filter(([, n]) => n !== 0)),
    buffered: drain.buffered,
    ...(drain.disk_bytes === undefined ? {} : { disk_bytes: drain.disk_bytes, disk_events: drain.disk_events ?? 0 }),
    ...(drain.builtin ? { builtin: true } : {}),
  };
}

const count = fc.nat({ max: 1_000_000 });
const drainState: fc.Arbitrary<DrainState> = fc.record(
  {
    state: fc.constantFrom('STARTING', 'RUNNING', 'RETRYING', 'FATAL'),
    error: fc.string(),
    sent: fc.oneof(fc.constant(0), count),
    dropped: fc.dictionary(fc.constantFrom('buffer_full', 'disk_full', 'corrupt', 'core_stopped', 'rate_limit'), fc.oneof(fc.constant(0), count)),
    buffered: fc.oneof(fc.constant(0), count),
    disk_bytes: count,
    disk_events: count,
    builtin: fc.constant(true),
  },
  { requiredKeys: ['state', 'sent', 'dropped', 'buffered'] },
);
const drainName = fc.oneof(fc.constantFrom('web', 'archive', '__proto__', 'a"quote', 'tenant.acme.x'), fc.stringMatching(/^[A-Za-z0-9_.-]{1,12}$/));

describe('status documents (docs/store.md)', () => {
  it('leave out what says nothing: state RUNNING, sent 0, buffered 0, drop reasons at 0', () => {
    const document = encodeNodeStatus({
      node_id: 'n',
      updated: 1_700_000_000,
      drains: {
        idle: { state: 'RUNNING', sent: 0, dropped: { buffer_full: 0 }, buffered: 0 },
        empty: { state: 'STARTING', sent: 0, dropped: {}, buffered: 0 },
        busy: { state: 'RETRYING', error: 'connect ECONNREFUSED', sent: 5, dropped: { buffer_full: 2, disk_full: 0 }, buffered: 7, disk_bytes: 96, disk_events: 1 },
      },
    });
    expect(document).toBe(
      '{"updated":1700000000,"drains":{"idle":{},"empty":{"state":"STARTING"},' +
        '"busy":{"state":"RETRYING","error":"connect ECONNREFUSED","sent":5,"dropped":{"buffer_full":2},"buffered":7,"disk_bytes":96,"disk_events":1}}}',
    );
    expect(decodeNodeStatus('n', document)?.drains.idle).toEqual({ state: 'RUNNING', sent: 0, dropped: {}, buffered: 0 });
  });

  it('read an entry whose state is not a string as unreadable, and leave it out alone', () => {
    const document = '{"updated":1700000000,"drains":{"bad":{"state":7},"web":{"sent":3}}}';
    expect(decodeNodeStatus('n', document)?.drains).toEqual({ web: { state: 'RUNNING', sent: 3, dropped: {}, buffered: 0 } });
  });

  it('read documents of older versions, which wrote every field', () => {
    const older = '{"updated":1700000000.5,"drains":{"web":{"state":"RUNNING","sent":0,"dropped":{"buffer_full":0},"buffered":0}}}';
    expect(decodeNodeStatus('n', older)).toEqual({ node_id: 'n', updated: 1_700_000_000.5, drains: { web: { state: 'RUNNING', sent: 0, dropped: { buffer_full: 0 }, buffered: 0 } } });
  });

  it('an encoder reusing unchanged entries writes what a new one would, through drains added, gone, and changed in place', () => {
    const step = fc.record({
      set: fc.dictionary(drainName, drainState, { maxKeys: 8 }),
      // Changed in place on the objects handed before (a caller that keeps its drain objects).
      bump: fc.array(fc.tuple(fc.nat(), fc.constantFrom('sent', 'buffer_full', 'state')), { maxLength: 4 }),
      keep: fc.boolean(),
    });
    fc.assert(
      fc.property(fc.array(step, { minLength: 1, maxLength: 12 }), (steps) => {
        const encoder = new NodeStatusEncoder();
        let drains: Record<string, DrainState> = {};
        for (const { set, bump, keep } of steps) {
          if (!keep) drains = Object.fromEntries(Object.entries(set));
          const names = Object.keys(drains);
          for (const [i, field] of bump) {
            const drain = drains[names[i % Math.max(1, names.length)]];
            if (!drain) continue;
            if (field === 'sent') drain.sent++;
            else if (field === 'state') drain.state = drain.state === 'RUNNING' ? 'RETRYING' : 'RUNNING';
            else drain.dropped.buffer_full = (drain.dropped.buffer_full ?? 0) + 1;
          }
          const body = encoder.body({ drains });
          expect(body).toBe(new NodeStatusEncoder().body({ drains }));
          const read = decodeNodeStatus('n', withUpdated(body, 1)) as NodeStatus;
          expect(Object.keys(read.drains)).toEqual(names);
          for (const name of names) expect(read.drains[name]).toEqual(asRead(drains[name]));
        }
      }),
      { numRuns: 300 },
    );
  });

  it('an encoder tells whether a drain state or error differs from the last document written, or a drain is new since, through drains added, gone, back and changed', () => {
    // Few names and states, so that drains go and come back as they were, or changed.
    const fewStates = fc.record({ state: fc.constantFrom('RUNNING', 'RETRYING'), error: fc.constantFrom(undefined, 'refused'), sent: fc.nat({ max: 2 }), dropped: fc.constant({}), buffered: fc.constant(0) }, { requiredKeys: ['state', 'sent', 'dropped', 'buffered'] });
    const step = fc.record({
      set: fc.dictionary(fc.constantFrom('a', 'b', 'c', 'd'), fewStates, { maxKeys: 4 }),
      // Some drains kept from before (possibly changed), the others as `set` has them.
      keep: fc.array(fc.tuple(fc.nat(), fc.constantFrom('same', 'sent', 'state', 'error')), { maxLength: 4 }),
      write: fc.boolean(),
    });
    fc.assert(
      fc.property(fc.array(step, { minLength: 1, maxLength: 15 }), (steps) => {
        const encoder = new NodeStatusEncoder();
        /** Each drain's state and error as the last document written has them. */
        let written = new Map<string, string>();
        const stateOf = (drain: DrainState): string => JSON.stringify([drain.state, drain.error]);
        let drains: Record<string, DrainState> = {};
        for (const { set, keep, write } of steps) {
          const before = Object.entries(drains);
          const next: Record<string, DrainState> = Object.fromEntries(Object.entries(set));
          for (const [i, change] of keep) {
            if (before.length === 0) break;
            const [name, drain] = before[i % before.length];
            const copy = { ...drain, dropped: { ...drain.dropped } };
            if (change === 'sent') copy.sent++;
            else if (change === 'state') copy.state = copy.state === 'RUNNING' ? 'RETRYING' : 'RUNNING';
            else if (change === 'error') copy.error = copy.error === undefined ? 'refused' : undefined;
            next[name] = copy;
          }
          drains = next;
          const part = encoder.drainsPart(drains);
          expect(encoder.statesChanged).toBe(Object.entries(drains).some(([name, drain]) => written.get(name) !== stateOf(drain)));
          expect(encoder.document(part, undefined)).toBe(new NodeStatusEncoder().body({ drains }));
          if (write) {
            encoder.written();
            written = new Map(Object.entries(drains).map(([name, drain]) => [name, stateOf(drain)]));
          }
        }
      }),
      { numRuns: 300 },
    );
  });

  it('give the rows of drain status by drain, then node, in code-unit order, fields as read', () => {
    const node = fc.record({ node_id: fc.stringMatching(/^[a-zA-Z0-9_.-]{1,6}$/), updated: fc.nat(), drains: fc.dictionary(drainName, drainState, { maxKeys: 6 }) });
    fc.assert(
      fc.property(fc.uniqueArray(node, { selector: (n) => n.node_id, maxLength: 6 }), (nodes: NodeStatus[]) => {
        const read = nodes.map((n) => decodeNodeStatus(n.node_id, encodeNodeStatus(n))!);
        const expected = read
          .flatMap((n) => Object.entries(n.drains).map(([drain, state]) => ({ drain, node_id: n.node_id, ...state, updated: n.updated })))
          .sort((a, b) => (a.drain < b.drain ? -1 : a.drain > b.drain ? 1 : a.node_id < b.node_id ? -1 : a.node_id > b.node_id ? 1 : 0));
        expect(JSON.stringify(drainStatusRows(read))).toBe(JSON.stringify(expected));
      }),
      { numRuns: 300 },
    );
  });

  it('keep the live part as it is given', () => {
    const live = { in: 3, in_per_s: 1.5, clients: [{ name: 'systail', running: true }], keys: [], drains: { web: { out_per_s: 2, dropped_per_s: {} } } };
    const body = new NodeStatusEncoder().body({ drains: { web: { state: 'RUNNING', sent: 1, dropped: {}, buffered: 0 } }, live });
    expect(JSON.parse(body)).toEqual({ drains: { web: { sent: 1 } }, live });
  });
});
