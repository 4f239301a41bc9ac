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
