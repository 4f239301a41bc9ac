import { readFileSync } from 'node:fs';
import { isAlias, isMap, isPair, isScalar, isSeq, LineCounter, parseDocument, visit, type Document, type Node } from 'yaml';
import { ConfigError } from './errors.js';

/** A key's place in the file: mapping keys and list indexes from the top. */
export type KeyPath = ReadonlyArray<string | number>;

/** A parsed config file: its content and where each key is. */
export interface YamlSource {
  content: unknown;
  /** The line (1-based) of the key at `path`, or of its nearest ancestor that exists. */
  lineOf(path: KeyPath): number | undefined;
}

/**
 * Aliases a file may expand. The `yaml` library counts expansions against this and refuses more,
 * which stops a "billion laughs" file (aliases of aliases) from exhausting memory at `start`.
 */
const MAX_ALIAS_COUNT = 100;

/**
 * Reads and parses a config file with `yaml`, keeping a LineCounter so that every problem found
 * later can name its line. `shown` is the file as the user gave it (named in messages).
 */
export function readYamlSource(path: string, shown: string): YamlSource {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError(shown, undefined, `cannot be read: ${(err as Error).message}`, { cause: err });
  }
  const lines = new LineCounter();
  const doc = parseDocument(text, { prettyErrors: false, lineCounter: lines });
  const [error] = doc.errors;
  if (error) {
    const { line, col } = lines.linePos(error.pos[0]);
    // yaml's own text for this one points at its API, not at the user's mistake.
    const problem = error.code === 'MULTIPLE_DOCS' ? 'holds more than one YAML document' : error.message;
    throw new ConfigError(shown, undefined, `${problem} (column ${col})`, { cause: error, line });
  }
  const lineOf = (path: KeyPath): number | undefined => keyLine(doc, lines, path);
  let content: unknown;
  try {
    content = doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
  } catch (err) {
    const [key, line] = firstAliasedKey(doc, lines);
    throw new ConfigError(shown, key, `expands too many YAML aliases (more than ${MAX_ALIAS_COUNT}); is it an alias bomb?`, { cause: err, line });
  }
  return { content, lineOf };
}

function lineOfNode(lines: LineCounter, node: Node | null | undefined): number | undefined {
  return node?.range ? lines.linePos(node.range[0]).line : undefined;
}

function keyText(key: unknown): string {
  return isScalar(key) ? String(key.value) : String(key);
}

/** Walks `path` down the document: a mapping key's line, or a list item's. */
function keyLine(doc: Document, lines: LineCounter, path: KeyPath): number | undefined {
  let node: unknown = doc.contents;
  let line = lineOfNode(lines, doc.contents as Node | null);
  for (const segment of path) {
    if (isAlias(node)) node = node.resolve(doc);
    if (isMap(node)) {
      const pair = node.items.find((p) => keyText(p.key) === String(segment));
      if (!pair) break;
      line = lineOfNode(lines, pair.key as Node) ?? line;
      node = pair.value;
    } else if (isSeq(node) && typeof segment === 'number' && segment < node.items.length) {
      node = node.items[segment];
      line = lineOfNode(lines, node as Node) ?? line;
    } else {
      break;
    }
  }
  return line;
}

/** The top-level key (and the line) of the first alias: where an alias bomb is named. */
function firstAliasedKey(doc: Document, lines: LineCounter): [string | undefined, number | undefined] {
  let found: [string | undefined, number | undefined] = [undefined, undefined];
  visit(doc, {
    Alias(_key, node, path) {
      // path holds the ancestors: the document, its top mapping, then the top-level pair.
      const topPair = path[path.indexOf(doc.contents as (typeof path)[number]) + 1];
      const top = isPair(topPair) ? keyText(topPair.key) : undefined;
      found = [top, lineOfNode(lines, node)];
      return visit.BREAK;
    },
  });
  return found;
}
