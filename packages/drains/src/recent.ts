import type { Redis } from 'ioredis';
import { DrainError } from './errors.js';
import { redisClient } from './schemes/redis.js';
import type { DrainSpec } from './scheme.js';

/** One line a redis drain kept: the list it is in, and the line as the drain formatted it. */
export interface KeptLine {
  list: string;
  line: string;
}

const SCAN_BATCH = 500;

/**
 * The `count` newest lines a redis drain keeps, oldest first. With a `key` param the drain keeps
 * one list; without, one list per event key, found by scanning for the drain's filter prefixes,
 * and merged by the events' `unix_time` (lines that are not event JSON keep their list order).
 */
export async function readRecent(spec: DrainSpec, count: number): Promise<KeptLine[]> {
  const client = await redisClient(spec);
  let connectError: Error | undefined;
  client.on('error', (err: Error) => (connectError ??= err));
  try {
    await client.connect().catch((err: Error) => {
      throw connectError ?? err;
    });
    const lists = spec.params.key !== undefined ? [spec.params.key] : await listsOf(client, spec.filters);
    const kept: Array<KeptLine & { time: number; order: number }> = [];
    for (const list of lists) {
      // Lists are newest first (LPUSH): the first `count` are the newest of that list.
      const lines = await client.lrange(list, 0, count - 1);
      lines.reverse().forEach((line, order) => kept.push({ list, line, time: unixTimeOf(line), order }));
    }
    kept.sort((a, b) => a.time - b.time || (a.list === b.list ? a.order - b.order : 0));
    return kept.slice(Math.max(0, kept.length - count)).map(({ list, line }) => ({ list, line }));
  } catch (err) {
    if (err instanceof DrainError) throw err;
    throw new DrainError(`redis ${spec.host}:${spec.port}: ${(err as Error).message}`, { cause: err });
  } finally {
    client.disconnect();
  }
}

/** The lists whose names start with one of the prefixes (every list without prefixes), sorted. */
async function listsOf(client: Redis, prefixes: readonly string[]): Promise<string[]> {
  const found = new Set<string>();
  for (const prefix of prefixes.length ? prefixes : ['']) {
    let cursor = '0';
    do {
      const [next, keys] = await client.scan(cursor, 'MATCH', escapeGlob(prefix) + '*', 'COUNT', SCAN_BATCH, 'TYPE', 'list');
      for (const key of keys) found.add(key);
      cursor = next;
    } while (cursor !== '0');
  }
  return [...found].sort();
}

function escapeGlob(text: string): string {
  return text.replace(/[*?[\]\\]/g, '\\$&');
}

/** An event line's (or a raw `KEY JSON` line's) top-level unix_time; lines without one sort first, keeping their order. */
function unixTimeOf(line: string): number {
  const brace = line.indexOf('{');
  if (brace < 0) return 0;
  try {
    // Parsed in full: a nested object of the event may have a unix_time of its own.
    const time = (JSON.parse(line.slice(brace)) as { unix_time?: unknown }).unix_time;
    return typeof time === 'number' && Number.isFinite(time) ? time : 0;
  } catch {
    return 0;
  }
}
