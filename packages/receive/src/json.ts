import { keyProblem } from '@logyard/bus';

export type JsonMalformedReason = 'invalid_json' | 'not_object' | 'missing_name' | 'invalid_name' | 'invalid_text';

export interface JsonEvent {
  key: string;
  fields: Record<string, unknown>;
}

export interface JsonProblem {
  malformed: JsonMalformedReason;
  detail: string;
}

/** Fields the publisher stamps: a sender's value of the wrong type is replaced, not passed on. */
const STAMPED: Array<[string, string]> = [['node_id', 'string'], ['unix_time', 'number'], ['human_time', 'string']];

/**
 * One received JSON event: an object with a string `name`, published as `<prefix>.<name>` with
 * every field the sender gave. `text` is the sender's `text`, else its `message` or `msg`
 * (what bunyan, pino, GELF and Vector send), else "".
 */
export function parseJsonEvent(line: string, keyPrefix: string): JsonEvent | JsonProblem {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch (err) {
    return { malformed: 'invalid_json', detail: (err as Error).message };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return { malformed: 'not_object', detail: `a JSON ${value === null ? 'null' : Array.isArray(value) ? 'array' : typeof value}, not an object` };
  }
  const fields = value as Record<string, unknown>;
  const name = fields.name;
  if (name === undefined) return { malformed: 'missing_name', detail: 'no "name" field' };
  if (typeof name !== 'string') return { malformed: 'invalid_name', detail: '"name" is not a string' };
  const key = `${keyPrefix}.${name}`;
  const problem = keyProblem(key);
  if (problem) return { malformed: 'invalid_name', detail: `"name" does not make a valid key: ${problem}` };
  if (fields.text === undefined) {
    fields.text = typeof fields.message === 'string' ? fields.message : typeof fields.msg === 'string' ? fields.msg : '';
  } else if (typeof fields.text !== 'string') {
    return { malformed: 'invalid_text', detail: '"text" is not a string' };
  }
  for (const [field, type] of STAMPED) {
    const v = fields[field];
    if (v !== undefined && (typeof v !== type || (type === 'number' && !Number.isFinite(v)))) delete fields[field];
  }
  return { key, fields };
}

export function isJsonProblem(r: JsonEvent | JsonProblem): r is JsonProblem {
  return (r as JsonProblem).malformed !== undefined;
}
