import { appendFileSync, mkdtempSync, renameSync, rmSync, unlinkSync, existsSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { compilePattern, LineSplitter, splitText, Tailer } from '../src/index.js';

const dirs: string[] = [];
const tailers: Tailer[] = [];
afterEach(async () => {
  for (const t of tailers.splice(0)) await t.close();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** Rotates `file` as Docker's json-file driver does: drop `.<maxFiles-1>`, shift the others, rename, create. */
function dockerRotate(file: string, maxFiles: number): void {
  if (existsSync(`${file}.${maxFiles - 1}`)) unlinkSync(`${file}.${maxFiles - 1}`);
  for (let i = maxFiles - 1; i > 1; i--) if (existsSync(`${file}.${i - 1}`)) renameSync(`${file}.${i - 1}`, `${file}.${i}`);
  renameSync(file, `${file}.1`);
  writeFileSync(file, '');
}

async function until(cond: () => boolean, what: string, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function follow(existing = true): Promise<{ file: string; lines: string[]; gaps: Array<number | undefined>; tailer: Tailer }> {
  const dir = mkdtempSync(join(tmpdir(), 'logyard-rotation-'));
  dirs.push(dir);
  const file = join(dir, 'app-json.log');
  if (existing) writeFileSync(file, 'old line, before the start\n');
  const lines: string[] = [];
  const gaps: Array<number | undefined> = [];
  const tailer = new Tailer({
    sources: [{ pattern: compilePattern(file), open: () => ({ line: (t) => lines.push(t), rotationGap: (_after, files) => gaps.push(files) }) }],
    positionsFile: join(dir, 'positions.json'),
    maxLine: 4096,
    pollMs: 50,
    scanMs: 100,
    retireMs: 300,
  });
  tailers.push(tailer);
  await tailer.start();
  return { file, lines, gaps, tailer };
}

describe('Tailer and fast rotation', () => {
  it('reads every line when a file is rotated four times before it looks (files created and rotated away in between)', async () => {
    const { file, lines, tailer } = await follow();
    let n = 0;
    const write = (count: number): void => {
      for (let i = 0; i < count; i++) appendFileSync(file, `line ${++n}\n`);
    };
    write(10);
    for (let r = 0; r < 4; r++) {
      dockerRotate(file, 5);
      write(10);
    }
    await until(() => lines.length >= 50, '50 lines');
    expect(lines).toEqual(Array.from({ length: 50 }, (_, i) => `line ${i + 1}`));
    expect(tailer.stats().rotationGaps).toBe(0);
  });

  it('reads the rotated files of a file that appeared after the start and was rotated before it was found', async () => {
    const { file, lines } = await follow(false);
    let n = 0;
    writeFileSync(file, '');
    for (let r = 0; r < 3; r++) {
      for (let i = 0; i < 10; i++) appendFileSync(file, `line ${++n}\n`);
      dockerRotate(file, 5);
    }
    appendFileSync(file, `line ${++n}\n`);
    await until(() => lines.length >= 31, '31 lines');
    expect(lines).toEqual(Array.from({ length: 31 }, (_, i) => `line ${i + 1}`));
  });

  it('counts and tells a rotation so fast that rotated files were removed unread, and reads what is left', async () => {
    const { file, lines, gaps, tailer } = await follow();
    let n = 0;
    const write = (count: number): void => {
      for (let i = 0; i < count; i++) appendFileSync(file, `line ${++n}\n`);
    };
    write(5);
    // max-file 3: after 6 rotations only the last 2 rotated files and the new one are left.
    for (let r = 0; r < 6; r++) {
      dockerRotate(file, 3);
      write(5);
    }
    await until(() => tailer.stats().rotationGaps > 0 && lines.length >= 20, 'the gap and the lines that are left');
    // Three files were lost; the count is a lower bound (creation times within one clock tick).
    expect(gaps).toHaveLength(1);
    expect(gaps[0]).toBeGreaterThanOrEqual(1);
    expect(gaps[0]).toBeLessThanOrEqual(3);
    expect(tailer.stats().rotationGaps).toBe(gaps[0]);
    // The file it held open is read to its end; then the two rotated files left and the new one.
    expect(lines).toEqual([1, 2, 3, 4, 5, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35].map((i) => `line ${i}`));
  });
});

describe('LineSplitter offsets and splitText', () => {
  it('gives each line the file offset of its first byte, ASCII or not, across chunks', () => {
    const got: Array<[string, number]> = [];
    const s = new LineSplitter(100, (l, at) => got.push([l, at]), 1000);
    s.push(Buffer.from('ab\r\néé\nc'));
    s.push(Buffer.from('d\nx\n'));
    expect(got).toEqual([['ab', 1000], ['éé', 1004], ['cd', 1009], ['x', 1012]]);
  });

  it('cuts text at a byte size, never inside a UTF-8 character', () => {
    expect(splitText('abcdefg', 3)).toEqual(['abc', 'def', 'g']);
    expect(splitText('ééé', 3)).toEqual(['é', 'é', 'é']);
    expect(splitText('short', 100)).toEqual(['short']);
  });
});
