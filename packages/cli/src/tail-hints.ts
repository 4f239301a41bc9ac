import { closeNames, Subscriber } from '@logyard/bus';
import type { LogyardConfig } from '@logyard/config';

/** How long the tail looks at this node's keys before judging its prefixes. */
export const HINT_WINDOW_MS = 3_000;

/** The streams every node may have (docs/drains.md, keys and filters): a mistyped first segment is judged against them. */
const STREAMS = ['systail', 'apptail', 'event', 'syslog', 'journal', 'logyard'];

/**
 * `did you mean X?` for tail prefixes that match no key seen but are close to one: keys are what
 * this node's core publishes during `windowMs` under the prefixes' first segments (a subscriber
 * on the local core, so the cluster's drains see nothing of it), the stream names and the
 * config's systail names. Returns one line per such prefix; empty when all match or none is close.
 */
export async function prefixHints(prefixes: readonly string[], config: LogyardConfig, windowMs = HINT_WINDOW_MS): Promise<string[]> {
  const seen = new Set<string>([
    ...STREAMS,
    config.receive.jsonKeyPrefix,
    ...Object.keys(config.systail.files).filter((n) => !n.includes('*')).map((n) => `systail.${n}.${config.nodeId}`),
  ]);
  await sampleKeys(config.runDir, prefixes.map((p) => p.split('.')[0]), windowMs, seen);
  const hints: string[] = [];
  for (const prefix of prefixes) {
    if ([...seen].some((key) => key.startsWith(prefix))) continue;
    const close = closePrefixes(prefix, seen);
    if (close.length) hints.push(`no key seen yet starts with ${prefix}; did you mean ${close.join(' or ')}? (still waiting for it)`);
  }
  return hints;
}

/** The prefixes of `keys`, as deep as `prefix` (in segments), close to it by edit distance. */
export function closePrefixes(prefix: string, keys: Iterable<string>): string[] {
  const depth = prefix.split('.').length;
  return closeNames(prefix, new Set([...keys].map((key) => key.split('.').slice(0, depth).join('.'))));
}

/** Adds to `into` the keys the local core publishes under `firstSegments` during `windowMs`. */
async function sampleKeys(runDir: string, firstSegments: string[], windowMs: number, into: Set<string>): Promise<void> {
  let subscriber: Subscriber;
  try {
    subscriber = new Subscriber({ runDir, prefixes: [...new Set(firstSegments)] });
  } catch {
    return; // no local core: judge against the names known without it
  }
  const timer = setTimeout(() => subscriber.close(), windowMs);
  try {
    for await (const { key } of subscriber) into.add(key);
  } catch {
    // the core went away: what was seen is enough
  } finally {
    clearTimeout(timer);
    subscriber.close();
  }
}
