import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { nowUnix } from '@logyard/bus';
import { UntoldGaps, type Gap, type HeldEvents } from '@logyard/drains';
import type { HeldCount } from './drain-set.js';
import type { Logger } from './log.js';

/** The file under state_dir that carries the counts from one run of the core to the next. */
export function heldByDrainsFile(stateDir: string): string {
  return join(stateDir, 'held-by-drains.json');
}

/** How often a running core rewrites the file (when the counts changed): the error of the kill -9 estimate. */
const SNAPSHOT_MS = 1000;

/** One drain's line in the file: the events it held at `at`, and the drops it had not told yet. */
interface Entry {
  events: number;
  at: number;
  untold: Gap[];
}

/**
 * The accounting of docs/drains.md ("When a drain restarts or the core stops"): a drain without
 * `disk` loses what it holds in memory when the core stops; the count is logged at exit and told
 * in-band, as `core_stopped`, when the drain runs again. The counts live in state_dir/held-by-drains.json:
 * - `snapshot()` rewrites it while the core runs (once a second, when it changed), so that after a
 *   kill -9 or a crash the next start still knows roughly what was lost: the events held at the
 *   last snapshot (what arrived or left in the last second is the error of that estimate);
 * - `stopped()` writes the exact counts after a clean stop (SIGTERM/SIGINT) and logs them;
 * - `load()` at the next start turns them into the gaps each drain adopts, told before anything else.
 * Drops not yet told when the core stopped (any reason) are carried over the same way.
 * The disk queue (`disk=`) will take the events of durable drains before stopped() counts them.
 */
export class CoreStoppedLedger {
  private readonly file: string;
  private lastWritten = '';
  private timer: NodeJS.Timeout | null = null;

  constructor(stateDir: string, private readonly log: Logger) {
    this.file = heldByDrainsFile(stateDir);
  }

  /** What the last run left, as gaps by drain (empty when nothing was lost or on the first start). */
  load(): Map<string, HeldEvents> {
    const left = new Map<string, HeldEvents>();
    let entries: Record<string, Entry>;
    try {
      entries = parseEntries(readFileSync(this.file, 'utf8'));
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'ENOENT') this.log('WARN', `core_stopped: cannot read ${this.file} (${(err as Error).message}); counts of the last run are lost`);
      return left;
    }
    for (const [name, entry] of Object.entries(entries)) {
      const gaps = new UntoldGaps();
      for (const gap of entry.untold) gaps.add(gap);
      if (entry.events > 0) gaps.add({ reason: 'core_stopped', count: entry.events, since: entry.at });
      if (gaps.size > 0) left.set(name, { keys: [], jsons: [], gaps: gaps.takeAll() });
    }
    const lost = [...left].map(([name, h]) => [name, count(h.gaps.filter((g) => g.reason === 'core_stopped'))] as const).filter(([, n]) => n > 0);
    const total = lost.reduce((n, [, c]) => n + c, 0);
    const untold = [...left.values()].reduce((n, h) => n + count(h.gaps.filter((g) => g.reason !== 'core_stopped')), 0);
    if (total > 0 || untold > 0) {
      const before = untold > 0 ? `; ${untold} dropped before it were not told yet` : '';
      this.log('INFO', `core_stopped: ${total} events were lost when the core last stopped (${lost.map(([name, c]) => `${name} ${c}`).join(', ') || 'none'})${before}; each drain tells its counts in-band`);
    }
    return left;
  }

  /** While the core runs: snapshots what its drains hold once a second. */
  watch(held: () => Map<string, HeldCount>): void {
    this.timer = setInterval(() => this.snapshot(held()), SNAPSHOT_MS);
    this.timer.unref();
  }

  /** What would be lost if the process ended now. Written only when it changed. */
  snapshot(held: Map<string, HeldCount>): void {
    const at = nowUnix();
    const entries: Record<string, Entry> = {};
    for (const [name, h] of held) if (h.events > 0 || h.untold.length > 0) entries[name] = { events: h.events, at, untold: h.untold };
    // Compared without the time: a drain holding the same count does not rewrite the file.
    const fingerprint = JSON.stringify(entries, (k, v) => (k === 'at' ? undefined : v));
    if (fingerprint === this.lastWritten) return;
    if (this.write(entries)) this.lastWritten = fingerprint;
  }

  /** After the drains stopped: writes and logs what they held, lost with this process. */
  stopped(held: Map<string, HeldEvents>): void {
    if (this.timer) clearInterval(this.timer);
    const at = nowUnix();
    const entries: Record<string, Entry> = {};
    for (const [name, h] of held) if (h.keys.length > 0 || h.gaps.length > 0) entries[name] = { events: h.keys.length, at, untold: h.gaps };
    this.write(entries);
    const lost = [...held].filter(([, h]) => h.keys.length > 0);
    const total = lost.reduce((n, [, h]) => n + h.keys.length, 0);
    if (total === 0) return;
    const list = lost.map(([name, h]) => `${name} ${h.keys.length}`).join(', ');
    this.log('WARN', `core stopped with ${total} events held in memory by drains (${list}): lost; each drain tells it in-band (core_stopped) when it runs again`);
  }

  private write(entries: Record<string, Entry>): boolean {
    try {
      mkdirSync(dirname(this.file), { recursive: true, mode: 0o700 });
      writeFileSync(`${this.file}.tmp`, JSON.stringify(entries) + '\n', { mode: 0o600 });
      renameSync(`${this.file}.tmp`, this.file);
      return true;
    } catch (err) {
      if (this.lastWritten !== 'failed') this.log('WARN', `core_stopped: cannot write ${this.file} (${(err as Error).message}); a crash would lose the counts`);
      this.lastWritten = 'failed';
      return false;
    }
  }
}

/** Tolerates what a crash can leave (an empty or torn file, a hand-edited one): skips what does not fit. */
function parseEntries(text: string): Record<string, Entry> {
  const entries: Record<string, Entry> = {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new Error('not JSON');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error('not a JSON object');
  for (const [name, value] of Object.entries(parsed)) {
    const v = value as Partial<Entry>;
    if (!isCount(v?.events) || typeof v.at !== 'number') continue;
    const untold = Array.isArray(v.untold) ? v.untold.filter((g: Gap) => typeof g?.reason === 'string' && isCount(g.count) && typeof g.since === 'number') : [];
    entries[name] = { events: v.events, at: v.at, untold };
  }
  return entries;
}

function isCount(n: unknown): n is number {
  return Number.isSafeInteger(n) && (n as number) >= 0;
}

function count(gaps: Gap[]): number {
  return gaps.reduce((n, g) => n + g.count, 0);
}
