import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { isProcessAlive } from './lock.js';

/**
 * The clients (systail, apptail, events, receive) tell their counters by writing them once a
 * second to <run_dir>/clients/<name>.json; `logyard status` and the core's /metrics read them.
 */
export function clientStatsDir(runDir: string): string {
  return join(runDir, 'clients');
}

export function clientStatsFile(runDir: string, name: string): string {
  return join(clientStatsDir(runDir), `${name}.json`);
}

export interface ClientStats {
  client: string;
  pid: number;
  started: number;
  /** Whether its process is alive now (the file stays after it stops). */
  running: boolean;
  /** Its counters: numbers, counts by reason, and descriptions (e.g. listeners). */
  [counter: string]: unknown;
}

/** Every client's last counters, by name. */
export function readClientStats(runDir: string): ClientStats[] {
  const dir = clientStatsDir(runDir);
  let names: string[];
  try {
    names = readdirSync(dir).filter((n) => n.endsWith('.json')).sort();
  } catch {
    return [];
  }
  const stats: ClientStats[] = [];
  for (const name of names) {
    try {
      const c = JSON.parse(readFileSync(join(dir, name), 'utf8')) as ClientStats;
      if (typeof c?.client !== 'string' || !Number.isSafeInteger(c.pid)) continue;
      stats.push({ ...c, running: isProcessAlive(c.pid) });
    } catch {
      // being rewritten or not ours: skip it this time
    }
  }
  return stats;
}
