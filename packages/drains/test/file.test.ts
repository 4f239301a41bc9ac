import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, renameSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DrainConfigError, parseDrainUri } from '../src/index.js';
import { openFile } from '../src/schemes/file.js';
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

/** Processes and mounts a test made, undone after it. */
const racers: ChildProcess[] = [];
const mounts: string[] = [];

afterEach(async () => {
  await closeDrains();
  for (const racer of racers.splice(0)) racer.kill('SIGKILL');
  for (const mount of mounts.splice(0)) execFileSync('umount', [mount]);
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
    expect(status.error).toBe(`ENOTDIR: "${blocker}" is not a directory`);
  });

  it('a symlink swapped in while the file is opened again and again never leads outside the roots', async () => {
    // A racer swaps both the directory and the file for symlinks leading outside, as fast as it can.
    mkdirSync(join(root, 'sub'));
    const racer = spawn('python3', ['-c', SYMLINK_RACER, root, outside], { stdio: ['ignore', 'pipe', 'inherit'] });
    racers.push(racer);
    await new Promise((resolve) => racer.stdout?.once('data', resolve)); // it is swapping
    const spec = parseDrainUri(`file://${root}/sub/f.log?format={{text}}`, { formats: {} });
    let refused = 0;
    for (let i = 0; i < 400; i++) {
      try {
        const transport = await openFile(spec, { fileDrainRoots: [root], reconnect: false });
        await transport.send({ keys: ['k'], lines: [`line ${i}\n`], jsons: [eventJson(`line ${i}`)] });
        await transport.close();
      } catch (err) {
        // What the race may cost: an open refused (a symlink met, the path outside the roots or gone).
        const code = (err as NodeJS.ErrnoException).code;
        if (!(err instanceof DrainConfigError) && code !== 'ELOOP' && code !== 'ENOENT' && code !== 'ENOTDIR') throw err;
        refused++; // a refused open (ELOOP, outside the roots, gone) is what the race may cost
      }
    }
    racer.kill('SIGKILL');
    await new Promise((resolve) => racer.once('exit', resolve));
    expect(readdirSync(outside)).toEqual([]);
    expect(refused).toBeGreaterThan(0); // the race did happen
    // With the symlink the racer may have left removed, the drain's file opens as before.
    if (existsSync(join(root, 'aside'))) {
      rmSync(join(root, 'sub'), { recursive: true, force: true }); // a link, or a directory the drain made
      renameSync(join(root, 'aside'), join(root, 'sub'));
    }
    rmSync(join(root, 'sub', 'f.log'), { force: true });
    const transport = await openFile(spec, { fileDrainRoots: [root], reconnect: true });
    await transport.send({ keys: ['k'], lines: ['after the race\n'], jsons: [eventJson('after the race')] });
    await transport.close();
    const inside = lines(join(root, 'sub', 'f.log'));
    expect(inside).toEqual(['after the race']);
  });

  it('a disk that fills up leaves only whole lines, SENT equal to the lines on disk, and the rest follows once freed', async () => {
    const small = join(dir, 'small');
    mkdirSync(small);
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', small]);
    mounts.push(small);
    const path = join(small, 'out.log');
    const drain = makeDrain('full', `file://${path}`, { fileDrainRoots: [small] });
    drain.start();
    const total = 5000;
    for (let i = 0; i < total; i++) drain.push('systail.app', eventJson(`event ${i}`));
    const status = await waitForState(drain, 'RETRYING');
    expect(status.error).toMatch(/^ENOSPC/);
    const texts = linesOnDisk(path);
    expect(texts.length).toBeGreaterThan(0);
    expect(texts).toEqual(Array.from({ length: texts.length }, (_, i) => `event ${i}`));
    expect(drain.status().sent).toBe(texts.length);

    execFileSync('mount', ['-o', 'remount,size=4m', small]);
    await waitFor('every event written', () => drain.status().sent === total, 30_000, drain);
    expect(linesOnDisk(path)).toEqual(Array.from({ length: total }, (_, i) => `event ${i}`));
  });

  it('reopens the path when the file is renamed (logrotate) or deleted, losing nothing', async () => {
    const path = join(root, 'rotated.log');
    const drain = fileDrain('rotating', path, '?format={{text}}');
    drain.start();
    let next = 0;
    const pushUntil = async (what: string, done: () => boolean): Promise<void> => {
      await waitFor(what, () => {
        drain.push('systail.app', eventJson(`line ${next++}`));
        return done();
      }, 20_000, drain);
      await waitFor('all written', () => drain.status().sent === next, 20_000, drain);
    };
    await pushUntil('first line written', () => existsSync(path) && lines(path).length > 0);
    renameSync(path, `${path}.1`);
    await pushUntil('the path written again after the rename', () => existsSync(path) && lines(path).length > 0);
    const rotated = lines(`${path}.1`);
    const afterRename = lines(path);
    expect([...rotated, ...afterRename]).toEqual(Array.from({ length: next }, (_, i) => `line ${i}`));

    unlinkSync(path);
    const before = next;
    await pushUntil('the path written again after the delete', () => existsSync(path) && lines(path).length > 0);
    // What was written to the deleted file in the moment before the check is gone with it; the
    // file that took its place continues in order, up to the newest event.
    const recreated = lines(path);
    expect(recreated.at(-1)).toBe(`line ${next - 1}`);
    const first = Number(recreated[0].slice('line '.length));
    expect(first).toBeGreaterThanOrEqual(before);
    expect(recreated).toEqual(Array.from({ length: next - first }, (_, i) => `line ${first + i}`));
  });
});

/** Swaps `<root>/sub` for a symlink to `<outside>` and `<root>/sub/f.log` for one to a file there, in a loop. */
const SYMLINK_RACER = `
import os, sys
root, outside = sys.argv[1], sys.argv[2]
sub, aside, f = os.path.join(root, 'sub'), os.path.join(root, 'aside'), os.path.join(root, 'sub', 'f.log')
print('racing', flush=True)
i = 0
while True:
    i += 1
    try:
        if i % 16 == 0:
            os.rename(sub, aside); os.symlink(outside, sub); os.unlink(sub); os.rename(aside, sub)
        if os.path.lexists(f) and not os.path.islink(f): os.unlink(f)  # the drain made it: race on
        os.symlink(os.path.join(outside, 'f.log'), f); os.unlink(f)
    except OSError:
        pass
`;

/** The texts of the JSON lines in `path`; a line that is not whole JSON fails the test. */
function linesOnDisk(path: string): string[] {
  return lines(path).map((line) => (JSON.parse(line) as { text: string }).text);
}
