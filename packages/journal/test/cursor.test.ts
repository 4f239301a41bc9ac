import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CursorFile, journalCursorFile } from '../src/index.js';

const CURSOR = 's=060d8a74cade43428d613d99840d9b0a;i=1;b=0123456789abcdef0123456789abcdef;m=1;t=60a24181e4000;x=843019527b49fc2b';

describe('CursorFile', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'ly-cursor-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('has nothing at the first start, then keeps the saved cursor of its journal', () => {
    const file = journalCursorFile(join(dir, 'state'));
    expect(new CursorFile(file, '/j').load()).toEqual({ cursor: null });
    new CursorFile(file, '/j').save(CURSOR);
    expect(new CursorFile(file, '/j').load()).toEqual({ cursor: CURSOR });
    expect(JSON.parse(readFileSync(file, 'utf8'))).toEqual({ version: 1, journal: '/j', cursor: CURSOR });
  });

  it('does not use the cursor of another journal, nor a damaged file, and says why', () => {
    const file = journalCursorFile(dir);
    new CursorFile(file, 'system').save(CURSOR);
    expect(new CursorFile(file, '/mnt/host/journal').load()).toEqual({ cursor: null, problem: `${file} is the cursor of another journal (system)` });
    writeFileSync(file, '{"journal":"system","cursor":"s=1;i=2');
    expect(new CursorFile(file, 'system').load()).toEqual({ cursor: null, problem: `${file} is not JSON` });
    writeFileSync(file, '{"journal":"system","cursor":"--after-cursor x"}');
    expect(new CursorFile(file, 'system').load()).toEqual({ cursor: null, problem: `${file} holds no journal cursor` });
  });
});
