import { lstatSync, mkdirSync, statSync, type Stats } from 'node:fs';
import { BusError } from './errors.js';

/**
 * run_dir must be this user's alone (docs/operations.md, run_dir): whoever can reach its sockets publishes
 * into the bus and reads from it. A directory another local user made first (`/tmp/logyard-0`
 * after a reboot) could hold their sockets in place of the core's, so, as ssh and tmux do, a
 * run_dir or socket that another user owns or that group or others can write is refused.
 */
export class UnsafeRunDirError extends BusError {}

/** Group- or other-writable. */
const WRITABLE_BY_OTHERS = 0o022;

/** Creates run_dir (and missing parents) with mode 0700 when it does not exist, then checks it is safe. */
export function ensureRunDir(runDir: string): void {
  try {
    mkdirSync(runDir, { recursive: true, mode: 0o700 });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'EEXIST') throw new UnsafeRunDirError(`cannot create run_dir ${runDir}: ${reason(err)}`, { cause: err });
  }
  checkRunDir(runDir);
}

/** Throws UnsafeRunDirError when run_dir is not safe to use; false when it does not exist. */
export function checkRunDir(runDir: string): boolean {
  const st = statOf(runDir, 'run_dir', runDir);
  if (st === null) return false;
  if (!st.isDirectory()) throw new UnsafeRunDirError(`run_dir ${runDir} is not a directory`);
  checkOwnerAndMode(st, `run_dir ${runDir}`, runDir);
  return true;
}

/** Throws UnsafeRunDirError when the socket at `path` is not safe to connect to; false when it does not exist. */
export function checkRunDirSocket(path: string, runDir: string): boolean {
  const st = statOf(path, 'socket', runDir);
  if (st === null) return false;
  if (!st.isSocket()) throw new UnsafeRunDirError(`${path} in run_dir is not a socket; remove it or use another --run-dir`);
  checkOwnerAndMode(st, `socket ${path}`, runDir);
  return true;
}

/** The file's stats, following a symbolic link only when this user or root made it. */
function statOf(path: string, what: string, runDir: string): Stats | null {
  try {
    const link = lstatSync(path);
    if (!link.isSymbolicLink()) return link;
    if (link.uid !== myUid() && link.uid !== 0) {
      throw new UnsafeRunDirError(`${what} ${path} is a symbolic link made by uid ${link.uid}, not by you (uid ${myUid()}); remove it or use another --run-dir`);
    }
    return statSync(path);
  } catch (err) {
    if (err instanceof UnsafeRunDirError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return null;
    throw new UnsafeRunDirError(`cannot use run_dir ${runDir}: ${reason(err)}`, { cause: err });
  }
}

function checkOwnerAndMode(st: Stats, what: string, runDir: string): void {
  const uid = myUid();
  if (st.uid !== uid) {
    throw new UnsafeRunDirError(
      `${what} belongs to uid ${st.uid}, not to you (uid ${uid}): refused, as another user could have made it to take your events; use a run_dir of your own (--run-dir)`,
    );
  }
  if ((st.mode & WRITABLE_BY_OTHERS) !== 0) {
    const mode = (st.mode & 0o7777).toString(8).padStart(4, '0');
    throw new UnsafeRunDirError(`${what} is writable by group or others (mode ${mode}): refused; chmod 700 ${runDir} or use another --run-dir`);
  }
}

function myUid(): number {
  return process.getuid?.() ?? 0;
}

function reason(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  if (e.code === 'EACCES' || e.code === 'EPERM') return 'permission denied (it belongs to another user, or a directory above it does)';
  return e.code ?? e.message;
}
