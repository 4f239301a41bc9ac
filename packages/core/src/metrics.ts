import type { Registry } from 'prom-client';
import type { CoreStatus } from './status.js';

/**
 * Prometheus view of the same numbers as GET /status, read at scrape time. prom-client is
 * loaded on the first scrape: a core nobody scrapes does not pay its memory.
 */
export async function createMetrics(read: () => CoreStatus): Promise<Registry> {
  const { Counter, Gauge, Registry } = await import('prom-client');
  const registry = new Registry();
  new Counter({
    name: 'logyard_events_in_total',
    help: 'Events received from local publishers',
    registers: [registry],
    collect() {
      this.reset();
      this.inc(read().events.in);
    },
  });
  new Counter({
    name: 'logyard_events_malformed_total',
    help: 'Malformed batches or events received and dropped, by reason',
    labelNames: ['reason'],
    registers: [registry],
    collect() {
      this.reset();
      for (const [reason, n] of Object.entries(read().events.malformed)) this.inc({ reason }, n);
    },
  });
  new Counter({
    name: 'logyard_events_dropped_total',
    help: 'Events publishers sent that never reached the core, by reason',
    labelNames: ['reason'],
    registers: [registry],
    collect() {
      this.reset();
      for (const [reason, n] of Object.entries(read().events.dropped)) this.inc({ reason }, n);
    },
  });
  new Counter({
    name: 'logyard_drain_sent_total',
    help: 'Events a drain delivered to its target',
    labelNames: ['drain'],
    registers: [registry],
    collect() {
      this.reset();
      for (const d of read().drains) this.inc({ drain: d.name }, d.sent);
    },
  });
  new Counter({
    name: 'logyard_drain_dropped_total',
    help: 'Events a drain dropped, by reason',
    labelNames: ['drain', 'reason'],
    registers: [registry],
    collect() {
      this.reset();
      for (const d of read().drains) for (const [reason, n] of Object.entries(d.dropped)) this.inc({ drain: d.name, reason }, n);
    },
  });
  new Gauge({
    name: 'logyard_drain_buffered',
    help: 'Events waiting in a drain buffer',
    labelNames: ['drain'],
    registers: [registry],
    collect() {
      this.reset();
      for (const d of read().drains) this.set({ drain: d.name }, d.buffered);
    },
  });
  new Gauge({
    name: 'logyard_drain_up',
    help: '1 when the drain is RUNNING on this node',
    labelNames: ['drain', 'state'],
    registers: [registry],
    collect() {
      this.reset();
      for (const d of read().drains) this.set({ drain: d.name, state: d.state }, d.state === 'RUNNING' ? 1 : 0);
    },
  });
  return registry;
}
