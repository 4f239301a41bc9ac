import { constants } from 'node:fs';
import { mkdir, open, readlink, type FileHandle } from 'node:fs/promises';
import { FileOpenError } from './errors.js';

const { O_RDONLY, O_WRONLY, O_APPEND, O_CREAT, O_DIRECTORY, O_NOFOLLOW, O_NONBLOCK } = constants;

/**
 * Opens (creating it and its directories when missing) the file `parts` below the directory
 * `root` for appending, without ever following a symlink below `root`: a link swapped in after
 * the path was checked cannot lead the open elsewhere.
 *
 * Node has no openat(2), so each step goes through `/proc/self/fd/<dir>/<name>`: the kernel
 * resolves the magic link to the directory already opened (not to a path that could have
 * changed since) and O_NOFOLLOW refuses a symlink at `<name>`. The root itself is opened by
 * path and then checked to be what it was resolved to.
 */
export async function openBeneath(root: string, parts: string[]): Promise<FileHandle> {
  await mkdir(root, { recursive: true });
  let dir = await open(root, O_RDONLY | O_DIRECTORY);
  try {
    const opened = await readlink(fdPath(dir));
    if (opened !== root) throw new FileOpenError(`"${root}" changed while it was opened (now "${opened}")`, 'ELOOP');
    for (const name of parts.slice(0, -1)) {
      const next = await openChildDir(dir, name);
      await dir.close();
      dir = next;
    }
    const name = parts[parts.length - 1];
    // O_NONBLOCK: opening a FIFO for writing would otherwise wait for a reader; it is refused below.
    const file = await openChild(dir, name, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_NONBLOCK, 0o644);
    const stat = await file.stat().catch(async (err: unknown) => {
      await file.close();
      throw err;
    });
    if (!stat.isFile()) {
      await file.close();
      throw new FileOpenError(`"${root}/${parts.join('/')}" is not a regular file`, 'EINVAL');
    }
    return file;
  } finally {
    await dir.close();
  }
}

async function openChildDir(dir: FileHandle, name: string): Promise<FileHandle> {
  try {
    await mkdir(`${fdPath(dir)}/${name}`);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw await openError(dir, name, err);
  }
  return openChild(dir, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
}

async function openChild(dir: FileHandle, name: string, flags: number, mode?: number): Promise<FileHandle> {
  try {
    return await open(`${fdPath(dir)}/${name}`, flags, mode);
  } catch (err) {
    throw await openError(dir, name, err);
  }
}

/** The error of a step, naming the real path instead of /proc/self/fd/N. */
async function openError(dir: FileHandle, name: string, err: unknown): Promise<FileOpenError> {
  const code = (err as NodeJS.ErrnoException).code ?? 'EIO';
  const where = `"${await readlink(fdPath(dir)).catch(() => '?')}/${name}"`;
  // O_NOFOLLOW on a symlink fails with ELOOP; O_DIRECTORY on a file with ENOTDIR.
  if (code === 'ELOOP') return new FileOpenError(`${where} became a symlink after it was checked`, code, err);
  if (code === 'ENOTDIR') return new FileOpenError(`${where} is not a directory`, code, err);
  const reason = err instanceof Error ? err.message.replace(/,.*$/, '') : String(err);
  return new FileOpenError(`cannot open ${where} (${reason.replace(/^[A-Z]+: /, '')})`, code, err);
}

function fdPath(handle: FileHandle): string {
  return `/proc/self/fd/${handle.fd}`;
}

