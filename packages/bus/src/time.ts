/**
 * RFC 3339 time with the local offset, e.g. 2026-11-20T22:05:01.123+01:00.
 * Formatting is cached per second because publishers stamp many events per second.
 */
let cachedSecond = -1;
let cachedHead = '';
let cachedOffset = '';

export function humanTime(unixSeconds: number): string {
  const ms = Math.floor(unixSeconds * 1000);
  const second = Math.floor(ms / 1000);
  if (second !== cachedSecond) {
    const d = new Date(second * 1000);
    const offsetMin = -d.getTimezoneOffset();
    const local = new Date(second * 1000 + offsetMin * 60_000);
    cachedHead = local.toISOString().slice(0, 19);
    const sign = offsetMin >= 0 ? '+' : '-';
    const abs = Math.abs(offsetMin);
    cachedOffset = `${sign}${pad2(Math.floor(abs / 60))}:${pad2(abs % 60)}`;
    cachedSecond = second;
  }
  const frac = ms - second * 1000;
  return `${cachedHead}.${frac < 10 ? '00' : frac < 100 ? '0' : ''}${frac}${cachedOffset}`;
}

function pad2(n: number): string {
  return n < 10 ? `0${n}` : String(n);
}

export function nowUnix(): number {
  return Date.now() / 1000;
}
