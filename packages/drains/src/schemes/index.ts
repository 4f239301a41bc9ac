import type { Scheme } from '../scheme.js';
import { file } from './file.js';
import { http } from './http.js';
import { redis } from './redis.js';
import { syslog } from './syslog.js';
import { tcp } from './tcp.js';
import { udp } from './udp.js';

export { fileDrainPathProblem } from './file.js';

/**
 * The schemes that exist, by URI scheme name. A TLS variant is the same descriptor under its own
 * name (listed in TLS_SCHEMES): adding a scheme means a module here and a line in this map.
 */
export const SCHEMES: Readonly<Record<string, Scheme>> = {
  tcp,
  udp,
  redis,
  rediss: redis,
  file,
  tls: tcp,
  syslog,
  'syslog+tls': syslog,
  http,
  https: http,
};

/** The names that mean "the same over TLS": they take `ca` and `insecure` besides their own params. */
export const TLS_SCHEMES: ReadonlySet<string> = new Set(['rediss', 'tls', 'syslog+tls', 'https']);

/** The scheme of that name (lower case), or undefined. */
export function schemeOf(name: string): Scheme | undefined {
  return Object.hasOwn(SCHEMES, name) ? SCHEMES[name] : undefined;
}
