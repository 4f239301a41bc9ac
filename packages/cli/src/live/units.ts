/** `3s ago`, `4m ago`, `2h ago`: how long before `now` (unix seconds) a unix time was. */
export function ago(unixSeconds: number, now = Date.now() / 1000): string {
  const s = Math.max(0, Math.floor(now - unixSeconds));
  if (s < 120) return `${s}s ago`;
  if (s < 7200) return `${Math.floor(s / 60)}m ago`;
  return `${Math.floor(s / 3600)}h ago`;
}

/** A rate as `top` and `streams` print it: whole numbers from 10/s up, one decimal below. */
export function perSecond(n: number): string {
  return n >= 10 || n === 0 ? String(Math.round(n)) : n.toFixed(1);
}

/** Bytes as `12.3 MB`. */
export function bytes(n: number): string {
  if (n < 1e3) return `${n} B`;
  if (n < 1e6) return `${(n / 1e3).toFixed(1)} kB`;
  if (n < 1e9) return `${(n / 1e6).toFixed(1)} MB`;
  return `${(n / 1e9).toFixed(1)} GB`;
}
