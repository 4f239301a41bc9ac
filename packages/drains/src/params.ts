/** Checks for URI param values: each takes the percent-decoded value and says whether it is valid. */
export type ParamCheck = (value: string) => boolean;

export const isPositiveInteger: ParamCheck = (value) =>
  /^[1-9][0-9]*$/.test(value) && Number.isSafeInteger(Number(value));

export const isNonNegativeInteger: ParamCheck = (value) =>
  /^(?:0|[1-9][0-9]*)$/.test(value) && Number.isSafeInteger(Number(value));

export const isBoolean: ParamCheck = (value) => value === 'true' || value === 'false';

export const isNonEmpty: ParamCheck = (value) => value !== '';

/** A rate in events/s: a decimal number above 0 (fractions allowed: 0.5 is one event every 2 s). */
export const isPositiveRate: ParamCheck = (value) => /^[0-9]{1,9}(?:\.[0-9]{1,6})?$/.test(value) && Number(value) > 0;

/** An absolute file path (ca=): relative ones would depend on where each core was started. */
export const isAbsolutePath: ParamCheck = (value) => value.startsWith('/') && !value.includes('\0');

/** Decodes for comparison only; a malformed name is kept as written (the parser reports it). */
export function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

/** Binary units of `disk=SIZE` (docs/drains.md, disk buffers); a unit is required, so `64` alone is refused. */
const SIZE_UNITS: Record<string, number> = { KiB: 2 ** 10, MiB: 2 ** 20, GiB: 2 ** 30, TiB: 2 ** 40 };
const SIZE_RE = /^([1-9][0-9]{0,9})(KiB|MiB|GiB|TiB)$/;

/** The bytes of a size such as `64MiB` or `2GiB`; undefined when it is not one. */
export function parseSize(value: string): number | undefined {
  const match = SIZE_RE.exec(value);
  if (!match) return undefined;
  const bytes = Number(match[1]) * SIZE_UNITS[match[2]];
  return Number.isSafeInteger(bytes) ? bytes : undefined;
}
