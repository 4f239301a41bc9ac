import { randomBytes, timingSafeEqual } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * The web console's token (docs/live.md): `<state_dir>/console.token`, made at the first start
 * (mode 0600) and kept, so a bookmarked console keeps working across restarts.
 */
export function consoleToken(stateDir: string): string {
  const path = join(stateDir, 'console.token');
  try {
    const token = readFileSync(path, 'utf8').trim();
    if (token) return token;
  } catch {
    // not made yet
  }
  mkdirSync(stateDir, { recursive: true, mode: 0o700 });
  const token = randomBytes(24).toString('base64url');
  try {
    writeFileSync(path, token + '\n', { mode: 0o600, flag: 'wx' });
    return token;
  } catch {
    // Made meanwhile by another process on this state_dir: that one counts.
    return readFileSync(path, 'utf8').trim();
  }
}

/** Whether `given` is the token, compared in constant time. */
export function tokenMatches(token: string, given: string | undefined): boolean {
  if (given === undefined) return false;
  const a = Buffer.from(token);
  const b = Buffer.from(given);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** Whether a status address (`host:port`) only answers on this machine. */
export function isLoopbackAddress(address: string): boolean {
  const host = address.slice(0, address.lastIndexOf(':')).replace(/^\[|\]$/g, '') || '127.0.0.1';
  return host === 'localhost' || host === '::1' || /^127\./.test(host);
}
