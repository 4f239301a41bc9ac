import { closeSync, openSync, readFileSync, unlinkSync, writeSync, chmodSync } from 'node:fs';
import { ensureRunDir, type CorePaths } from '@logyard/bus';
import { CoreAlreadyRunningError, CoreError } from './errors.js';

/**
 * Creates run_dir with mode 0700 (docs/operations.md, run_dir): only this user's processes may reach
 * the sockets. One that another user owns or can write is refused (they could have made it first).
 */
export function prepareRunDir(runDir: string): void {
  try {
    ensureRunDir(runDir);
  } catch (err) {
    throw new CoreError((err as Error).message, { cause: err });
  }
}

/**
 * The core's sockets readable and writable by this user only, whatever the umask: clients refuse a
 * socket that group or others can write (and run_dir already keeps other users out).
 */
export function restrictSockets(paths: CorePaths): void {
  for (const socket of [paths.publishSocket, paths.subscribeSocket, paths.statusSocket]) chmodSync(socket, 0o600);
}

/**
 * Takes the run_dir's lock file (holding our pid). A lock whose process is gone is stale
 * and taken over; a live one means another core owns the sockets.
 * Returns a release function.
 */
export function acquireLock(lockFile: string): () => void {
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const fd = openSync(lockFile, 'wx', 0o600);
      writeSync(fd, `${process.pid}\n`);
      closeSync(fd);
      return () => {
        try {
          if (readFileSync(lockFile, 'utf8').trim() === String(process.pid)) unlinkSync(lockFile);
        } catch {
          // already gone: nothing to release
        }
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') {
        throw new CoreError(`cannot create lock ${lockFile}: ${(err as Error).message}`, { cause: err });
      }
    }
    const holder = readHolder(lockFile);
    if (holder !== null && holder !== process.pid && isProcessAlive(holder)) {
      throw new CoreAlreadyRunningError(
        `another core (pid ${holder}) is running on ${lockFile.replace(/\/core\.pid$/, '')}; stop it or use another --run-dir`,
      );
    }
    try {
      unlinkSync(lockFile);
    } catch {
      // someone else removed the stale lock first; try again
    }
  }
  throw new CoreAlreadyRunningError(`could not take the lock ${lockFile}: another core is starting`);
}

function readHolder(lockFile: string): number | null {
  try {
    const pid = Number.parseInt(readFileSync(lockFile, 'utf8').trim(), 10);
    return Number.isInteger(pid) && pid > 0 ? pid : null;
  } catch {
    return null;
  }
}

/** Whether a process with this pid exists (EPERM: it does, owned by another user). */
export function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
