/** Checks for URI param values: each takes the percent-decoded value and says whether it is valid. */
export type ParamCheck = (value: string) => boolean;

export const isPositiveInteger: ParamCheck = (value) =>
  /^[1-9][0-9]*$/.test(value) && Number.isSafeInteger(Number(value));

export const isNonNegativeInteger: ParamCheck = (value) =>
  /^(?:0|[1-9][0-9]*)$/.test(value) && Number.isSafeInteger(Number(value));

export const isBoolean: ParamCheck = (value) => value === 'true' || value === 'false';

export const isNonEmpty: ParamCheck = (value) => value !== '';
