import type { Counter, Gauge, Registry } from 'prom-client';
import { DRAIN_STATES } from '@logyard/drains';
import type { ClientStats } from './client-stats.js';
import type { CoreStatus } from './status.js';

/** What /metrics reads at each scrape. */
export interface MetricsSources {
  status: () => CoreStatus;
  clients: () => ClientStats[];
}

/**
 * The clients' counters worth a series, by the field name in their stats (client-stats.ts).
 * A count by reason (receive's `malformed`) becomes one series per reason; a plain count of a
 * field with a `reason` becomes that reason's series (apptail's `invalidJson`).
 */
const CLIENT_COUNTERS: Record<string, { metric: string; help: string; reason?: string }> = {
  received: { metric: 'received', help: 'Messages a client took in (receive: syslog frames, datagrams, JSON lines; events: systail events; journal: entries)' },
  read: { metric: 'received', help: '' },
  malformed: { metric: 'malformed', help: 'Input a client refused as malformed, by reason', reason: 'not_an_event' },
  invalidJson: { metric: 'malformed', help: '', reason: 'invalid_json' },
  invalid: { metric: 'malformed', help: '', reason: 'invalid_entry' },
  tooLong: { metric: 'malformed', help: '', reason: 'too_long' },
  filtered: { metric: 'filtered', help: 'Journal entries of units not in journal.units' },
  rateLimited: { metric: 'rate_limited', help: 'Events a client cut by its per-key rate limit (told in-band)' },
  kernelDrops: { metric: 'kernel_drops', help: "Datagrams the kernel dropped before receive read them (its socket's receive buffer was full)" },
  matched: { metric: 'matched', help: 'systail events that matched a rule of the events client' },
  published: { metric: 'published', help: 'Events a client published' },
  sent: { metric: 'sent', help: 'Events a client handed to the core' },
  dropped: { metric: 'dropped', help: "Events a client's publisher dropped (core absent or too slow)" },
  lines: { metric: 'lines', help: 'Lines a tailing client (systail, apptail) read' },
  split: { metric: 'split', help: 'Lines longer than max_line, each cut into several events' },
  binary: { metric: 'binary', help: 'Lines skipped for NUL bytes or invalid UTF-8' },
  unreadable: { metric: 'unreadable', help: 'Files a pattern matched that could not be opened' },
  rotations: { metric: 'rotations', help: 'Rotations of tailed files followed' },
  truncations: { metric: 'truncations', help: 'Truncations of tailed files followed' },
  rotationGaps: { metric: 'rotation_gaps', help: 'Rotated files removed before a tailing client could read them (at least)' },
};

const CLIENT_GAUGES: Record<string, string> = {
  files: 'Files a tailing client follows',
  retiring: 'Rotated or deleted files still being read to their end',
  connections: "Open stream connections of receive's listeners",
  instances: 'Application instances apptail follows',
};

/**
 * Prometheus view of the same numbers as GET /status and the clients' counters, read at scrape
 * time, with the process's CPU and memory (prom-client's default metrics). prom-client is loaded
 * on the first scrape: a core nobody scrapes does not pay its memory.
 */
export async function createMetrics(sources: MetricsSources): Promise<Registry> {
  const { Counter, Gauge, Registry, collectDefaultMetrics } = await import('prom-client');
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  // Gauges that prom-client names *_total, which `promtool check metrics` rejects (a _total
  // suffix means a counter); the handles they count tell an operator little.
  for (const name of ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total']) registry.removeSingleMetric(name);
  const read = sources.status;
  const counter = (name: string, help: string, labelNames: string[], collect: (this: Counter) => void): void => {
    new Counter({ name, help, labelNames, registers: [registry], collect() {
      this.reset();
      collect.call(this);
    } });
  };
  const gauge = (name: string, help: string, labelNames: string[], collect: (this: Gauge) => void): void => {
    new Gauge({ name, help, labelNames, registers: [registry], collect() {
      this.reset();
      collect.call(this);
    } });
  };

  counter('logyard_events_in_total', 'Events received from local publishers', [], function () {
    this.inc(read().events.in);
  });
  counter('logyard_events_unrouted_total', 'Events that matched no drain and no subscriber (not a drop: nobody asked for them)', [], function () {
    this.inc(read().events.unrouted);
  });
  counter('logyard_events_malformed_total', 'Malformed batches or events received and dropped, by reason', ['reason'], function () {
    for (const [reason, n] of Object.entries(read().events.malformed)) this.inc({ reason }, n);
  });
  counter('logyard_events_dropped_total', 'Events publishers sent that never reached the core, by reason', ['reason'], function () {
    for (const [reason, n] of Object.entries(read().events.dropped)) this.inc({ reason }, n);
  });
  counter('logyard_subscriber_sent_total', 'Events handed to local subscribers (the events client, ...)', [], function () {
    this.inc(read().subscribers.sent);
  });
  counter('logyard_subscriber_dropped_total', 'Events dropped because a local subscriber did not keep up', [], function () {
    this.inc(read().subscribers.dropped);
  });

  counter('logyard_drain_sent_total', 'Events a drain delivered to its target', ['drain'], function () {
    for (const d of read().drains) this.inc({ drain: d.name }, d.sent);
  });
  counter('logyard_drain_dropped_total', 'Events a drain dropped, by reason', ['drain', 'reason'], function () {
    for (const d of read().drains) for (const [reason, n] of Object.entries(d.dropped)) this.inc({ drain: d.name, reason }, n);
  });
  gauge('logyard_drain_buffered', 'Events waiting in a drain buffer', ['drain'], function () {
    for (const d of read().drains) this.set({ drain: d.name }, d.buffered);
  });
  gauge('logyard_drain_up', '1 when the drain is RUNNING on this node', ['drain'], function () {
    for (const d of read().drains) this.set({ drain: d.name }, d.state === 'RUNNING' ? 1 : 0);
  });
  // A state set (one series per state, 1 for the current one): a change of state moves a 1,
  // it does not start a new series.
  gauge('logyard_drain_state', 'The state of a drain on this node: 1 for its current state, 0 for the others', ['drain', 'state'], function () {
    for (const d of read().drains) for (const state of DRAIN_STATES) this.set({ drain: d.name, state }, d.state === state ? 1 : 0);
  });

  gauge('logyard_client_up', '1 when the client process (systail, apptail, events, receive, journal) is running', ['client'], function () {
    for (const c of sources.clients()) this.set({ client: c.client }, c.running ? 1 : 0);
  });
  const counterFields = Object.entries(CLIENT_COUNTERS);
  for (const [metric, help] of uniqueMetrics(counterFields)) {
    const fields = counterFields.filter(([, c]) => c.metric === metric);
    const byReason = fields.some(([, c]) => c.reason !== undefined);
    counter(`logyard_client_${metric}_total`, help, byReason ? ['client', 'reason'] : ['client'], function () {
      for (const c of sources.clients()) {
        for (const [field, { reason }] of fields) {
          const value = c[field];
          if (isCount(value)) this.inc(byReason ? { client: c.client, reason: reason! } : { client: c.client }, value);
          else if (byReason && isCountsByReason(value)) for (const [r, n] of Object.entries(value)) this.inc({ client: c.client, reason: r }, n);
        }
      }
    });
  }
  for (const [field, help] of Object.entries(CLIENT_GAUGES)) {
    gauge(`logyard_client_${field}`, help, ['client'], function () {
      for (const c of sources.clients()) if (isCount(c[field])) this.set({ client: c.client }, c[field] as number);
    });
  }
  return registry;
}

function uniqueMetrics(fields: Array<[string, { metric: string; help: string }]>): Map<string, string> {
  const metrics = new Map<string, string>();
  for (const [, { metric, help }] of fields) if (!metrics.get(metric)) metrics.set(metric, help);
  return metrics;
}

function isCount(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value) && value >= 0;
}

function isCountsByReason(value: unknown): value is Record<string, number> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && Object.values(value).every(isCount);
}
