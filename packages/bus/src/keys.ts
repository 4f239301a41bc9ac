import { InvalidKeyError } from './errors.js';

/** docs/drains.md, keys and filters: a key is at most this many bytes ... */
export const MAX_KEY_BYTES = 255;
/** ... of dot-separated segments of these characters. */
export const KEY_RE = /^[A-Za-z0-9_:-]+(?:\.[A-Za-z0-9_:-]+)*$/;
/** A byte prefix of a key: whole segments, each followed by its dot, then possibly part of one. */
const FILTER_RE = /^(?:[A-Za-z0-9_:-]+\.)*[A-Za-z0-9_:-]*$/;

/** Why `key` is not a valid key, or null when it is. */
export function keyProblem(key: string): string | null {
  if (key.length === 0) return 'key is empty';
  if (Buffer.byteLength(key) > MAX_KEY_BYTES) return `key is longer than ${MAX_KEY_BYTES} bytes`;
  if (!KEY_RE.test(key)) return `key "${key}" must be dot-separated segments of [A-Za-z0-9_:-]`;
  return null;
}

export function isValidKey(key: string): boolean {
  return key.length <= MAX_KEY_BYTES && KEY_RE.test(key);
}

export function assertValidKey(key: string): void {
  const problem = keyProblem(key);
  if (problem) throw new InvalidKeyError(problem);
}

const SEGMENT_BAD = /[^A-Za-z0-9_:-]/g;

/**
 * `<prefix>.<name>` for a name that comes from outside (a syslog tag, a systemd unit, a container
 * name): each character a key segment cannot hold becomes `_`, and the key is cut to the longest
 * allowed; an empty or absent name gives `<prefix>.unknown`.
 */
export function keyWithName(prefix: string, name: string | null | undefined): string {
  if (!name) return `${prefix}.unknown`;
  const segment = name.replace(SEGMENT_BAD, '_');
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
  if (!/^[A-Za-z0-9_:.-]*$/.test(prefix)) return `filter "${prefix}" may only contain [A-Za-z0-9_:.-]`;
  if (!FILTER_RE.test(prefix)) {
    const where = prefix.startsWith('.') ? 'starts with a dot' : 'has an empty segment ("..")';
    return `filter "${prefix}" ${where}: keys are dot-separated segments of [A-Za-z0-9_:-]`;
  }
  return null;
}

/**
 * Maps keys to the values registered under prefixes of them. A lookup walks the key once
 * (cost grows with the key's length and the number of matches, never with the number of
 * registered prefixes) and the result is cached per key, because a node's keys repeat.
 */
export class PrefixIndex<T> {
  private readonly root: TrieNode<T> = new TrieNode();
  private cache = new Map<string, readonly T[]>();
  private readonly maxCached: number;

  constructor(maxCached = 16_384) {
    this.maxCached = maxCached;
  }

  add(prefix: string, value: T): void {
    let node = this.root;
    for (let i = 0; i < prefix.length; i++) {
      const ch = prefix.charCodeAt(i);
      let next = node.children.get(ch);
      if (!next) {
        next = new TrieNode();
        node.children.set(ch, next);
      }
      node = next;
    }
    if (!node.values.includes(value)) node.values.push(value);
    this.cache.clear();
  }

  remove(prefix: string, value: T): void {
    const path: TrieNode<T>[] = [this.root];
    let node = this.root;
    for (let i = 0; i < prefix.length; i++) {
      const next = node.children.get(prefix.charCodeAt(i));
      if (!next) return;
      node = next;
      path.push(node);
    }
    const at = node.values.indexOf(value);
    if (at < 0) return;
    node.values.splice(at, 1);
    // Prune empty branches so a long-running core does not accumulate dead nodes.
    for (let i = prefix.length; i > 0; i--) {
      const n = path[i];
      if (n.values.length > 0 || n.children.size > 0) break;
      path[i - 1].children.delete(prefix.charCodeAt(i - 1));
    }
    this.cache.clear();
  }

  /** Every value registered under a prefix of `key`; each at most once. */
  match(key: string): readonly T[] {
    const cached = this.cache.get(key);
    if (cached) return cached;
    const found: T[] = [];
    let node: TrieNode<T> | undefined = this.root;
    let i = 0;
    while (node) {
      for (const v of node.values) if (!found.includes(v)) found.push(v);
      if (i >= key.length) break;
      node = node.children.get(key.charCodeAt(i++));
    }
    if (this.cache.size >= this.maxCached) this.cache.clear();
    this.cache.set(key, found);
    return found;
  }

  get empty(): boolean {
    return this.root.values.length === 0 && this.root.children.size === 0;
  }
}

class TrieNode<T> {
  readonly children = new Map<number, TrieNode<T>>();
  readonly values: T[] = [];
}
