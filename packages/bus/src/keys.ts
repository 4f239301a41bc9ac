/** docs/drains.md, keys and filters: a key is at most this many bytes ... */
export const MAX_KEY_BYTES = 255;
/** ... of dot-separated segments of these characters. */
const SEGMENT_CHARS = 'A-Za-z0-9_:-';
const SEGMENT_CHAR = `[${SEGMENT_CHARS}]`;
export const KEY_RE = new RegExp(`^${SEGMENT_CHAR}+(?:\\.${SEGMENT_CHAR}+)*$`);
/** One segment of a key. */
export const KEY_SEGMENT_RE = new RegExp(`^${SEGMENT_CHAR}+$`);
/** A byte prefix of a key: whole segments, each followed by its dot, then possibly part of one. */
const FILTER_RE = new RegExp(`^(?:${SEGMENT_CHAR}+\\.)*${SEGMENT_CHAR}*$`);

/** Why `key` is not a valid key, or null when it is. */
export function keyProblem(key: string): string | null {
  if (key.length === 0) return 'key is empty';
  if (Buffer.byteLength(key) > MAX_KEY_BYTES) return `key is longer than ${MAX_KEY_BYTES} bytes`;
  if (!KEY_RE.test(key)) return `key "${key}" must be dot-separated segments of [A-Za-z0-9_:-]`;
  return null;
}

const SEGMENT_BAD = new RegExp(`[^${SEGMENT_CHARS}]`, 'g');
const FILTER_CHARS_RE = new RegExp(`^[.${SEGMENT_CHARS}]*$`);

/** `name` as a key segment: each character a segment cannot hold becomes `_` (empty stays empty). */
export function keySegment(name: string): string {
  return name.replace(SEGMENT_BAD, '_');
}

/**
 * `<prefix>.<name>` for a name that comes from outside (a syslog tag, a systemd unit, a container
 * name): each character a key segment cannot hold becomes `_`, and the key is cut to the longest
 * allowed; an empty or absent name gives `<prefix>.unknown`.
 */
export function keyWithName(prefix: string, name: string | null | undefined): string {
  if (!name) return `${prefix}.unknown`;
  const segment = keySegment(name);
  // After the replacement every character is one byte.
  const room = MAX_KEY_BYTES - prefix.length - 1;
  return `${prefix}.${segment.length > room ? segment.slice(0, room) : segment}`;
}

/**
 * Why `prefix` cannot be a filter, or null. Filters are byte prefixes of keys, so a filter may
 * end in the middle of a segment ("systail.ngi") or with a dot; a prefix no key has (an empty
 * segment: `..`, `a..b`, a leading dot) would match nothing and is refused.
 */
export function filterProblem(prefix: string): string | null {
  if (Buffer.byteLength(prefix) > MAX_KEY_BYTES) return `filter is longer than ${MAX_KEY_BYTES} bytes`;
  if (!FILTER_CHARS_RE.test(prefix)) return `filter "${prefix}" may only contain [A-Za-z0-9_:.-]`;
  if (!FILTER_RE.test(prefix)) {
    const where = prefix.startsWith('.') ? 'starts with a dot' : 'has an empty segment ("..")';
    return `filter "${prefix}" ${where}: keys are dot-separated segments of [A-Za-z0-9_:-]`;
  }
  return null;
}
