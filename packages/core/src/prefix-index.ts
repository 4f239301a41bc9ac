import { ownCopy } from '@logyard/drains';

/**
 * Maps keys to the values registered under prefixes of them. A lookup walks the key once
 * (cost grows with the key's length and the number of matches, never with the number of
 * registered prefixes) and the result is cached per key, because a node's keys repeat.
 */
export class PrefixIndex<T> {
  private readonly root: TrieNode<T> = new TrieNode();
  private cache = new Map<string, readonly T[]>();
  private readonly maxCached: number;
  /** Changes with every add and remove: what match answers may have changed. */
  version = 0;

  constructor(maxCached = 16_384) {
    this.maxCached = maxCached;
  }

  /**
   * `wholeSegments`: the value matches only keys that are the prefix or continue it with a dot
   * (a tenant's `apptail.app1` holds `apptail.app1.web`, never `apptail.app10`).
   */
  add(prefix: string, value: T, wholeSegments = false): void {
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
    const values = wholeSegments ? node.segmentValues : node.values;
    if (!values.includes(value)) values.push(value);
    this.cache.clear();
    this.version++;
  }

  remove(prefix: string, value: T, wholeSegments = false): void {
    const path: TrieNode<T>[] = [this.root];
    let node = this.root;
    for (let i = 0; i < prefix.length; i++) {
      const next = node.children.get(prefix.charCodeAt(i));
      if (!next) return;
      node = next;
      path.push(node);
    }
    const values = wholeSegments ? node.segmentValues : node.values;
    const at = values.indexOf(value);
    if (at < 0) return;
    values.splice(at, 1);
    // Prune empty branches so a long-running core does not accumulate dead nodes.
    for (let i = prefix.length; i > 0; i--) {
      const n = path[i];
      if (n.values.length > 0 || n.segmentValues.length > 0 || n.children.size > 0) break;
      path[i - 1].children.delete(prefix.charCodeAt(i - 1));
    }
    this.cache.clear();
    this.version++;
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
      if (node.segmentValues.length > 0 && (i === key.length || key.charCodeAt(i) === 46 /* . */)) {
        for (const v of node.segmentValues) if (!found.includes(v)) found.push(v);
      }
      if (i >= key.length) break;
      node = node.children.get(key.charCodeAt(i++));
    }
    if (this.cache.size >= this.maxCached) this.cache.clear();
    // The key is a slice of its whole incoming batch: kept as is, it would keep the batch alive.
    this.cache.set(ownCopy(key), found);
    return found;
  }

  get empty(): boolean {
    return this.root.values.length === 0 && this.root.segmentValues.length === 0 && this.root.children.size === 0;
  }
}

class TrieNode<T> {
  readonly children = new Map<number, TrieNode<T>>();
  readonly values: T[] = [];
  /** Values that match only where the key ends here or goes on with a dot. */
  readonly segmentValues: T[] = [];
}
