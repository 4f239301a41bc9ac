import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

/**
 * The user documentation (README.md and docs/*.md) as a reader follows it: every relative link
 * opens a file of the repository and, with `#anchor`, a heading of that file as GitHub names it;
 * every file of the repository a page names (scripts/bench/..., deploy/...) exists; nothing points
 * outside the repository; docs/README.md's index names every page of docs/.
 */
const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const docs = join(root, 'docs');
const pages = ['README.md', ...readdirSync(docs).filter((f) => f.endsWith('.md')).map((f) => join('docs', f))];

/** The page's lines with those of fenced code blocks blanked: markdown makes no links or headings there. */
function prose(text: string): string[] {
  const lines: string[] = [];
  let fence: string | undefined;
  for (const line of text.split('\n')) {
    const marker = /^\s*(```|~~~)/.exec(line)?.[1];
    if (marker && (fence === undefined || fence === marker)) {
      fence = fence === undefined ? marker : undefined;
      lines.push('');
      continue;
    }
    lines.push(fence === undefined ? line : '');
  }
  return lines;
}

/** GitHub's anchor for a heading: its text lower-cased, punctuation dropped, spaces made hyphens, repeats numbered. */
function anchors(text: string): Set<string> {
  const seen = new Map<string, number>();
  const result = new Set<string>();
  for (const line of prose(text)) {
    const heading = /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(line)?.[1];
    if (heading === undefined) continue;
    const visible = heading.replace(/!?\[([^\]]*)\]\([^)]*\)/g, '$1').replace(/`/g, '');
    const slug = visible.toLowerCase().replace(/[^\p{L}\p{M}\p{N}\p{Pc} -]/gu, '').replace(/ /g, '-');
    const n = seen.get(slug) ?? 0;
    seen.set(slug, n + 1);
    result.add(n === 0 ? slug : `${slug}-${n}`);
  }
  return result;
}

/** Every link and image target of a page, with its line number (none inside inline code). */
function links(text: string): { line: number; target: string }[] {
  const found: { line: number; target: string }[] = [];
  prose(text).forEach((line, i) => {
    for (const match of line.replace(/`[^`]*`/g, '').matchAll(/!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)) found.push({ line: i + 1, target: match[1] });
  });
  return found;
}

describe('the user documentation', () => {
  it('has pages to check', () => {
    expect(pages).toContain(join('docs', 'README.md'));
    expect(pages.length).toBeGreaterThan(5);
  });

  for (const page of pages) {
    const text = readFileSync(join(root, page), 'utf8');

    it(`${page}: every relative link opens a file of the repository and an existing heading`, () => {
      const broken: string[] = [];
      for (const { line, target } of links(text)) {
        if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue; // http:, https:, mailto:
        const [path, anchor] = target.split('#', 2) as [string, string | undefined];
        const file = path === '' ? join(root, page) : resolve(dirname(join(root, page)), decodeURIComponent(path));
        const where = `${page}:${line}: ${target}`;
        if (!`${file}${sep}`.startsWith(`${root}${sep}`)) broken.push(`${where} (outside the repository)`);
        else if (!existsSync(file)) broken.push(`${where} (no such file: ${relative(root, file)})`);
        else if (anchor !== undefined) {
          if (statSync(file).isDirectory() || !file.endsWith('.md')) broken.push(`${where} (an anchor into a file that is not markdown)`);
          else if (!anchors(readFileSync(file, 'utf8')).has(anchor)) broken.push(`${where} (no heading #${anchor} in ${relative(root, file)})`);
        }
      }
      expect(broken).toEqual([]);
    });

    it(`${page}: every file of the repository it names exists`, () => {
      // scripts/bench/core.mjs, deploy/systemd/logyard.service; N stands for a number (node-N.yaml).
      const missing: string[] = [];
      for (const [, path] of text.matchAll(/(?<![\w/.-])((?:packages|deploy|configs|test|scripts)\/[\w./-]*\w)/g)) {
        if (existsSync(join(root, path))) continue;
        const dir = join(root, dirname(path));
        const name = new RegExp(`^${path.split('/').pop()!.replace(/[.]/g, '\\.').replace(/\bN\b/g, '\\d+')}$`);
        if (!existsSync(dir) || !readdirSync(dir).some((f) => name.test(f))) missing.push(`${page}: ${path}`);
      }
      expect(missing).toEqual([]);
    });

    it(`${page}: points nowhere outside the repository`, () => {
      const outside = text
        .split('\n')
        .map((line, i) => ({ line: i + 1, text: line }))
        .filter(({ text }) => /\.\.\/shared|\/work\/|SPEC\.md|\bSPEC (section )?\d/.test(text))
        .map(({ line, text }) => `${page}:${line}: ${text.trim()}`);
      expect(outside).toEqual([]);
    });
  }

  it('docs/README.md links every page of docs/', () => {
    const indexed = new Set(links(readFileSync(join(docs, 'README.md'), 'utf8')).map(({ target }) => target.split('#')[0]));
    const pagesOfDocs = readdirSync(docs).filter((f) => f.endsWith('.md') && f !== 'README.md');
    expect(pagesOfDocs.filter((f) => !indexed.has(f))).toEqual([]);
  });

  it('finds headings and links as GitHub does', () => {
    const page = '# Disk buffers (`disk=SIZE`)\n## A node\'s own memory\n## A node\'s own memory\n```sh\n# not a heading [x](nowhere.md)\n```\nSee [x](a.md#b) and `[y](not-a-link)`.';
    expect([...anchors(page)]).toEqual(['disk-buffers-disksize', 'a-nodes-own-memory', 'a-nodes-own-memory-1']);
    expect(links(page).map(({ target }) => target)).toEqual(['a.md#b']);
  });
});
