import { isUtf8 } from 'node:buffer';

/**
 * A field's value as `journalctl -o json` writes it: a string when it is printable text, an
 * array of byte values when it is not (binary data, control characters such as terminal colour
 * codes, invalid UTF-8), an array of those when the field occurs more than once in the entry,
 * or null for a value journalctl left out (too large without --all, which we pass).
 */
export type JsonFieldValue = string | number[] | Array<string | number[]> | null;

/** One journal entry: its fields by name, `__CURSOR` among them. */
export type JournalEntry = Record<string, JsonFieldValue>;

/** A value as text, or, when it is not text, its bytes in base64. */
export type FieldValue = string | { base64: string };

/**
 * One line of `journalctl -o json`, or null when the line is not an entry (not a JSON object
 * with a string `__CURSOR`).
 */
export function parseEntryLine(line: string): JournalEntry | null {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return null;
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return null;
  const entry = value as JournalEntry;
  return typeof entry.__CURSOR === 'string' ? entry : null;
}

function isBytes(value: unknown): value is number[] {
  return Array.isArray(value) && (value.length === 0 || typeof value[0] === 'number');
}

/**
 * Bytes are text when they are valid UTF-8 without NUL: then a JSON string carries them exactly
 * (terminal colour codes and other control characters included). Anything else is binary.
 */
function decodeBytes(bytes: number[]): FieldValue {
  const buf = Buffer.from(bytes);
  if (isUtf8(buf) && !buf.includes(0)) return buf.toString('utf8');
  return { base64: buf.toString('base64') };
}

/** A field's value, or its values when the field occurs more than once; undefined when it has none. */
export function fieldValue(value: JsonFieldValue | undefined): FieldValue | FieldValue[] | undefined {
  if (value === null || value === undefined) return undefined;
  if (typeof value === 'string') return value;
  if (isBytes(value)) return decodeBytes(value);
  const values = (value as Array<string | number[] | null>).filter((v) => v !== null);
  return values.map((v) => (typeof v === 'string' ? v : decodeBytes(v)));
}

/** The first value of a field (for fields read as one value: MESSAGE, PRIORITY, _PID ...). */
export function firstValue(value: JsonFieldValue | undefined): FieldValue | undefined {
  const v = fieldValue(value);
  return Array.isArray(v) ? v[0] : v;
}

/** The first value of a field when it is text. */
export function textValue(value: JsonFieldValue | undefined): string | undefined {
  const v = firstValue(value);
  return typeof v === 'string' ? v : undefined;
}
