/** Binary units of a size (`max_event`, `disk=SIZE`); a unit is required, so `64` alone is not a size. */
const SIZE_UNITS: Record<string, number> = { KiB: 2 ** 10, MiB: 2 ** 20, GiB: 2 ** 30, TiB: 2 ** 40 };
const SIZE_RE = /^([1-9][0-9]{0,9})(KiB|MiB|GiB|TiB)$/;

/** The bytes of a size such as `64MiB` or `2GiB`; undefined when it is not one. */
export function parseSize(value: string): number | undefined {
  const match = SIZE_RE.exec(value);
  if (!match) return undefined;
  const bytes = Number(match[1]) * SIZE_UNITS[match[2]];
  return Number.isSafeInteger(bytes) ? bytes : undefined;
}
