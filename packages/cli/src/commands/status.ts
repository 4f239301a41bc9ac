import type { Command } from 'commander';
import { readClientStats, type ClientStats } from '@logyard/core';
import { configOf } from '../context.js';
import { fetchCoreStatus } from '../status-client.js';
import { formatTable } from '../table.js';

export function registerStatusCommand(program: Command): void {
  program
    .command('status')
    .description("this node: core up?, drains, counters")
    .option('--json', 'print the core\'s status JSON')
    .action(async (opts: { json?: boolean }, cmd: Command) => {
      const config = configOf(cmd);
      const s = await fetchCoreStatus(config.runDir);
      const clients = readClientStats(config.runDir);
      if (opts.json) {
        process.stdout.write(JSON.stringify({ ...s, clients }, null, 2) + '\n');
        return;
      }
      const malformed = Object.entries(s.events.malformed).filter(([, n]) => n > 0);
      const lost = Object.entries(s.events.dropped ?? {}).filter(([, n]) => n > 0);
      const lines = [
        `core      running, node ${s.node_id}, pid ${s.pid}, version ${s.version}, up ${duration(Date.now() / 1000 - s.started)}`,
        `store     ${s.store}`,
        `events    ${s.events.in} in, ${s.events.unrouted} matched no drain` +
          (malformed.length ? `, malformed: ${malformed.map(([r, n]) => `${n} ${r}`).join(', ')}` : ', none malformed') +
          (lost.length ? `, lost: ${lost.map(([r, n]) => `${n} ${r}`).join(', ')}` : ''),
        `subscribers  ${s.subscribers.sent} sent, ${s.subscribers.dropped} dropped`,
        ...(clients.length
          ? clients.map((c) => `client    ${c.client}: ${c.running ? `running, pid ${c.pid}` : 'not running'}; ${counters(c)}`)
          : ['clients   none running']),
        '',
      ];
      process.stdout.write(lines.join('\n'));
      const table = [['DRAIN', 'STATE', 'SENT', 'DROPPED', 'BUFFERED', 'ERROR']];
      for (const d of s.drains) {
        const dropped = Object.entries(d.dropped).filter(([, n]) => n > 0);
        table.push([
          d.builtin ? `${d.name} (built in)` : d.name,
          d.state,
          String(d.sent),
          dropped.length ? dropped.map(([r, n]) => `${n} ${r}`).join(', ') : '0',
          String(d.buffered),
          d.error ?? '',
        ]);
      }
      process.stdout.write(s.drains.length ? formatTable(table) : 'no drains\n');
    });
}

function duration(seconds: number): string {
  const s = Math.floor(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${s % 60}s`;
  return `${Math.floor(s / 3600)}h${Math.floor((s % 3600) / 60)}m`;
}

function counters(c: ClientStats): string {
  const parts: string[] = [];
  for (const [k, v] of Object.entries(c)) {
    if (['client', 'pid', 'started', 'running'].includes(k)) continue;
    parts.push(`${k} ${typeof v === 'object' ? JSON.stringify(v) : String(v)}`);
  }
  return parts.join(', ') || 'no counters';
}
