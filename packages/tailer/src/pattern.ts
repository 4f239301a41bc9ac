import { lstatSync, readdirSync, statSync } from 'node:fs';
import { isAbsolute, join, sep } from 'node:path';

/**
 * A path pattern: an absolute path whose segments may hold `*` and `?` (glob, within one
 * segment) and `{name}` placeholders (one or more characters of one segment, captured). A
 * placeholder used twice must match the same text both times.
 */
export interface PathPattern {
  readonly source: string;
  /** The longest directory of the pattern without wildcards. */
  readonly baseDir: string;
  /** How many segments below baseDir a match lies (1 = files directly in it). */
  readonly depth: number;
  /** Placeholder names, in order of first use. */
  readonly names: readonly string[];
  match(path: string): Record<string, string> | null;
  /** The files that match now. */
  scan(): Array<{ path: string; captures: Record<string, string> }>;
}

interface Segment {
  literal: string | null;
  regex: RegExp | null;
  /** The placeholder name of each capture group of `regex`. */
  groups: string[];
}

export class PatternError extends Error {
  override name = 'PatternError';
}

export function compilePattern(source: string): PathPattern {
  if (!isAbsolute(source)) throw new PatternError(`pattern ${source} is not an absolute path`);
  const parts = source.split(sep).filter((p) => p !== '');
  if (parts.length === 0) throw new PatternError(`pattern ${source} names no file`);
  const segments = parts.map(compileSegment);
  const names: string[] = [];
  for (const s of segments) for (const g of s.groups) if (!names.includes(g)) names.push(g);
  let literalCount = 0;
  while (literalCount < segments.length - 1 && segments[literalCount].literal !== null) literalCount++;
  const baseDir = sep + parts.slice(0, literalCount).join(sep);
  const depth = segments.length - literalCount;

  return {
    source,
    baseDir,
    depth,
    names,
    match(path) {
      const p = path.split(sep).filter((x) => x !== '');
      if (p.length !== segments.length) return null;
      const captures: Record<string, string> = {};
      for (let i = 0; i < p.length; i++) if (!matchSegment(segments[i], p[i], captures)) return null;
      return captures;
    },
    scan() {
      const out: Array<{ path: string; captures: Record<string, string> }> = [];
      const walk = (dir: string, index: number, captures: Record<string, string>): void => {
        const seg = segments[index];
        const last = index === segments.length - 1;
        const candidates: string[] = [];
        if (seg.literal !== null) candidates.push(seg.literal);
        else {
          try {
            candidates.push(...readdirSync(dir));
          } catch {
            return;
          }
        }
        for (const name of candidates) {
          const c = { ...captures };
          if (!matchSegment(seg, name, c)) continue;
          const path = join(dir, name);
          let st;
          try {
            st = statSync(path);
          } catch {
            // A link to nothing (or to what we may not see) is still a file the user asked for:
            // the tailer reports it as unreadable.
            if (last && lstatOk(path)) out.push({ path, captures: c });
            continue;
          }
          if (last) {
            if (st.isFile()) out.push({ path, captures: c });
          } else if (st.isDirectory()) walk(path, index + 1, c);
        }
      };
      walk(sep, 0, {});
      return out.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
    },
  };
}

function compileSegment(part: string): Segment {
  if (!/[*?{]/.test(part)) return { literal: part, regex: null, groups: [] };
  let re = '';
  const groups: string[] = [];
  for (let i = 0; i < part.length; i++) {
    const ch = part[i];
    if (ch === '*') re += '.*';
    else if (ch === '?') re += '.';
    else if (ch === '{') {
      const end = part.indexOf('}', i);
      if (end < 0) throw new PatternError(`unclosed { in ${part}`);
      groups.push(part.slice(i + 1, end));
      re += '(.+?)';
      i = end;
    } else re += ch.replace(/[.+^$()|[\]\\]/g, '\\$&');
  }
  return { literal: null, regex: new RegExp(`^${re}$`), groups };
}

function matchSegment(seg: Segment, name: string, captures: Record<string, string>): boolean {
  if (seg.literal !== null) return seg.literal === name;
  const m = seg.regex!.exec(name);
  if (!m) return false;
  for (let g = 0; g < seg.groups.length; g++) {
    const name_ = seg.groups[g];
    const v = m[g + 1];
    if (captures[name_] !== undefined && captures[name_] !== v) return false;
    captures[name_] = v;
  }
  return true;
}

function lstatOk(path: string): boolean {
  try {
    lstatSync(path);
    return true;
  } catch {
    return false;
  }
}
