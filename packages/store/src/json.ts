/** Plain code-unit order: the same on every machine, unlike localeCompare. The one order for names in both stores. */
export function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** A stored value read as a JSON object, or why it is not one. */
export type JsonObjectReading = { object: Record<string, unknown> } | { problem: 'not valid JSON' | 'not a JSON object' };

/** Reads a stored value (a file, an etcd value) as a JSON object; the one parser of both stores. */
export function readJsonObject(text: string): JsonObjectReading {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { problem: 'not valid JSON' };
  }
  return isJsonObject(value) ? { object: value } : { problem: 'not a JSON object' };
}

/** The value as a JSON object, or undefined when it is missing, not JSON or not an object. */
export function parseJsonObject(text: string | undefined): Record<string, unknown> | undefined {
  if (text === undefined) return undefined;
  const reading = readJsonObject(text);
  return 'object' in reading ? reading.object : undefined;
}

export function isJsonObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
