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

/** `disk=SIZE` (docs/drains.md, disk buffers) is a size as the config's max_event is: one rule, in bus. */
export { parseSize } from '@logyard/bus';
