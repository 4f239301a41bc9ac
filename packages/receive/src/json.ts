import { CLOSE_BRACE, EventPrefix, keyProblem, MAX_KEY_BYTES, OPEN_BRACE, stampedMembersNow } from '@logyard/bus';

export type JsonMalformedReason = 'invalid_json' | 'not_object' | 'missing_name' | 'invalid_name' | 'invalid_text';

export interface JsonEvent {
  key: string;
  fields: Record<string, unknown>;
  /**
   * True when the event is the sender's object as it was sent, plus the stamped fields: it had a
   * string `text` and none of the stamped fields, so `eventJsonAsSent` can splice the line.
   */
  asSent: boolean;
}

export interface JsonProblem {
  malformed: JsonMalformedReason;
  detail: string;
}

/** Fields the publisher stamps: a sender's value of the wrong type is replaced, not passed on. */
const STAMPED: Array<[string, string]> = [['node_id', 'string'], ['unix_time', 'number'], ['human_time', 'string']];

/** The key of a name and what keyProblem said of it, per key prefix: a sender uses a few names, each made and checked once. */
interface KeyOfName {
  key: string;
  problem: string | null;
}
const keysByPrefix = new Map<string, Map<string, KeyOfName>>();
const MAX_CACHED_KEYS = 10_000;

function keyOfName(keyPrefix: string, name: string): KeyOfName {
  let names = keysByPrefix.get(keyPrefix);
  if (names === undefined) {
    names = new Map();
    keysByPrefix.set(keyPrefix, names);
  }
  let known = names.get(name);
  if (known === undefined) {
    const key = `${keyPrefix}.${name}`;
    known = { key, problem: keyProblem(key) };
    // A name too long for a key is refused without being kept.
    if (name.length <= MAX_KEY_BYTES) {
      if (names.size >= MAX_CACHED_KEYS) names.clear();
      names.set(name, known);
    }
  }
  return known;
}

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
  const { key, problem } = keyOfName(keyPrefix, name);
  if (problem) return { malformed: 'invalid_name', detail: `"name" does not make a valid key: ${problem}` };
  let asSent = typeof fields.text === 'string';
  if (fields.text === undefined) {
    fields.text = typeof fields.message === 'string' ? fields.message : typeof fields.msg === 'string' ? fields.msg : '';
  } else if (typeof fields.text !== 'string') {
    return { malformed: 'invalid_text', detail: '"text" is not a string' };
  }
  for (const [field, type] of STAMPED) {
    const v = fields[field];
    if (v === undefined) continue;
    asSent = false;
    if (typeof v !== type || (type === 'number' && !Number.isFinite(v))) delete fields[field];
  }
  return { key, fields, asSent };
}

/**
 * The event JSON of `line` when `event.asSent`: the sender's text from its `{` to its last `}`,
 * with the stamped members (bus stampedMembersNow: `,"node_id":...`, without a brace) before that
 * `}`, so the object is neither serialized again nor copied here. Null when it must be serialized
 * from its fields: not asSent, or a CR between its tokens (a line of the wire carries none).
 */
export function eventJsonAsSent(line: string, event: JsonEvent, stampedMembers: string): string | null {
  if (!event.asSent) return null;
  // JSON.parse took it as an object: the first character that is not whitespace is its "{", the last its "}".
  const open = line.indexOf('{');
  const close = line.lastIndexOf('}');
  const cr = line.indexOf('\r', open);
  if (cr >= 0 && cr < close) return null;
  return (open === 0 ? line.slice(0, close) : line.slice(open, close)) + stampedMembers + '}';
}

export function isJsonProblem(r: JsonEvent | JsonProblem): r is JsonProblem {
  return (r as JsonProblem).malformed !== undefined;
}

/**
 * Publishes a datagram that is one JSON object and `asSent` from its bytes (publishPieces): the
 * datagram from its "{" up to its last "}", then the stamped members and "}", copied straight
 * into the publisher's batch; no event string is made nor encoded. Keeps the key prefixes (one
 * per key) and the stamped tail (one per millisecond) it needs.
 */
export class JsonPieces {
  private readonly prefixes = new Map<string, EventPrefix>();
  private stamp = '';
  private tail: Buffer = Buffer.alloc(0);

  constructor(private readonly nodeId: string) {}

  /**
   * The event of buf[start, end) (`line` decoded, which JSON.parse took as `event`, an object) as pieces:
   * false when it cannot go so (not asSent, a CR between its tokens: see eventJsonAsSent).
   */
  publish(publisher: { publishPieces(prefix: EventPrefix, src: Buffer, start: number, end: number, tail: Buffer): boolean }, event: JsonEvent, line: string, buf: Buffer, start: number, end: number): boolean {
    if (!event.asSent) return false;
    // On the string: buf holds the datagrams after this one too, which a search there would scan.
    const cr = line.indexOf('\r');
    if (cr >= 0 && cr < line.lastIndexOf('}')) return false;
    const open = buf.indexOf(OPEN_BRACE, start);
    const close = buf.lastIndexOf(CLOSE_BRACE, end - 1);
    if (open < 0 || close <= open) return false;
    const stamp = stampedMembersNow(this.nodeId);
    if (stamp !== this.stamp) {
      this.stamp = stamp;
      this.tail = Buffer.from(stamp + '}');
    }
    publisher.publishPieces(this.prefixOf(event.key), buf, open, close, this.tail);
    return true;
  }

  private prefixOf(key: string): EventPrefix {
    let prefix = this.prefixes.get(key);
    if (prefix === undefined) {
      if (this.prefixes.size >= MAX_CACHED_KEYS) this.prefixes.clear();
      prefix = new EventPrefix(key, '');
      this.prefixes.set(key, prefix);
    }
    return prefix;
  }
}
