import { existsSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { closeDrains, eventJson, makeDrain, waitFor, waitForState } from './helpers.js';

let dir: string;
let root: string;
let outside: string;

beforeEach(() => {
  // realpath: the temp dir may itself be behind a symlink, and messages show resolved paths.
  dir = realpathSync(mkdtempSync(join(tmpdir(), 'logyard-drains-')));
  root = join(dir, 'root');
  outside = join(dir, 'outside');
  mkdirSync(root);
  mkdirSync(outside);
});

afterEach(async () => {
  await closeDrains();
  rmSync(dir, { recursive: true, force: true });
});

function fileDrain(name: string, path: string, query = '') {
  return makeDrain(name, `file://${path}${query}`, { fileDrainRoots: [root] });
}

function lines(path: string): string[] {
  return readFileSync(path, 'utf8').split('\n').filter((line) => line !== '');
}

describe('file drain', () => {
  it('appends lines to an existing file, creating missing directories otherwise', async () => {
    const existing = join(root, 'app.log');
    writeFileSync(existing, 'kept\n');
    const appending = fileDrain('appending', existing, '?format={{text}}');
    const nested = join(root, 'deep', 'er', 'new.log');
    const creating = fileDrain('creating', nested, '?format={{text}}');
    appending.start();
    creating.start();
    for (const drain of [appending, creating]) {
      drain.push('systail.app', eventJson('one'));
      drain.push('systail.app', eventJson('two'));
    }
    await waitFor('both written', () => appending.status().sent === 2 && creating.status().sent === 2);
    expect(lines(existing)).toEqual(['kept', 'one', 'two']);
    expect(lines(nested)).toEqual(['one', 'two']);
  });

  it('overwrite=true truncates the file once, at start', async () => {
    const path = join(root, 'fresh.log');
    writeFileSync(path, 'old line\n');
    const drain = fileDrain('fresh', path, '?overwrite=true&format=raw');
    drain.start();
    drain.push('systail.app', eventJson('new'));
    await waitFor('written', () => drain.status().sent === 1, undefined, drain);
    const [line] = lines(path);
    expect(lines(path)).toHaveLength(1);
    expect(line.startsWith('systail.app {')).toBe(true);
    expect(JSON.parse(line.slice('systail.app '.length)).text).toBe('new');
    drain.push('systail.app', eventJson('newer'));
    await waitFor('written again', () => drain.status().sent === 2, undefined, drain);
    expect(lines(path)).toHaveLength(2);
  });

  it('a path leaving the roots through .. is FATAL naming it, while another drain keeps RUNNING', async () => {
    const escaping = fileDrain('escaping', `${root}/../outside/x.log`);
    const fine = fileDrain('fine', join(root, 'fine.log'), '?format={{text}}');
    escaping.start();
    fine.start();
    const status = await waitForState(escaping, 'FATAL');
    expect(status.error).toBe(`file drain path "${outside}/x.log" is outside file_drain_roots (${root})`);

    fine.push('systail.app', eventJson('still here'));
    escaping.push('systail.app', eventJson('nowhere'));
    await waitFor('the other drain writes', () => fine.status().sent === 1, undefined, fine);
    expect(fine.status().state).toBe('RUNNING');
    expect(lines(join(root, 'fine.log'))).toEqual(['still here']);
    expect(existsSync(join(outside, 'x.log'))).toBe(false);
    // FATAL is final: no retry turns it into something else.
    expect(escaping.status()).toMatchObject({ state: 'FATAL', sent: 0 });
  });

  it('a path leaving the roots through a symlinked directory or file is FATAL naming both paths', async () => {
    symlinkSync(outside, join(root, 'link-dir'));
    symlinkSync(join(outside, 'target.log'), join(root, 'link.log')); // dangling: opening would create it
    const viaDir = fileDrain('via-dir', join(root, 'link-dir', 'x.log'));
    const viaFile = fileDrain('via-file', join(root, 'link.log'));
    viaDir.start();
    viaFile.start();
    expect((await waitForState(viaDir, 'FATAL')).error).toBe(
      `file drain path "${root}/link-dir/x.log" (resolves to "${outside}/x.log") is outside file_drain_roots (${root})`,
    );
    expect((await waitForState(viaFile, 'FATAL')).error).toBe(
      `file drain path "${root}/link.log" (resolves to "${outside}/target.log") is outside file_drain_roots (${root})`,
    );
    expect(existsSync(join(outside, 'target.log'))).toBe(false);
  });

  it('follows a symlink that stays inside the roots', async () => {
    mkdirSync(join(root, 'real'));
    symlinkSync(join(root, 'real'), join(root, 'alias'));
    const drain = fileDrain('aliased', join(root, 'alias', 'a.log'), '?format={{text}}');
    drain.start();
    drain.push('systail.app', eventJson('through the alias'));
    await waitFor('written', () => drain.status().sent === 1, undefined, drain);
    expect(lines(join(root, 'real', 'a.log'))).toEqual(['through the alias']);
  });

  it('an unwritable target is RETRYING (not FATAL) with the reason', async () => {
    const blocker = join(root, 'not-a-dir');
    writeFileSync(blocker, '');
    const drain = fileDrain('blocked', join(blocker, 'x.log'));
    drain.start();
    const status = await waitForState(drain, 'RETRYING');
    expect(status.error).toBe(`EEXIST: file already exists, mkdir '${blocker}'`);
  });
});
