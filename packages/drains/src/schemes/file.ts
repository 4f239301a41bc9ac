import { readlink, realpath, stat, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { DrainConfigError, PartialSendError } from '../errors.js';
import { openBeneath } from '../open-beneath.js';
import { isBoolean } from '../params.js';
import type { OutBatch, Scheme, SchemeSyntax, Transport, TransportFactory } from '../scheme.js';

export const FILE_SYNTAX: SchemeSyntax = { target: 'file', params: { overwrite: isBoolean } };

/** Symlink hops followed before giving up, as the kernel does (ELOOP). */
const MAX_SYMLINK_HOPS = 40;
/** How often the path is compared with the open file (a rotation or deletion means reopen). */
const ROTATION_CHECK_MS = 1_000;

/**
 * Appends lines to a file under one of `file_drain_roots`. The check resolves symlinks; the
 * file is then opened from its root without following any link, so a symlink swapped in after
 * the check cannot lead elsewhere.
 */
export const openFile: TransportFactory = async (spec, ctx) => {
  const target = await resolveUnderRoots(spec.path ?? '', ctx.fileDrainRoots);
  const handle = await openBeneath(target.root, target.parts);
  if (spec.params.overwrite === 'true' && !ctx.reconnect) {
    // Truncated only after the open proved to be the checked file (O_TRUNC would cut first).
    await handle.truncate(0).catch(async (err: unknown) => {
      await handle.close();
      throw err;
    });
  }
  return new FileTransport(target, handle, (await handle.stat()));
};

export const file: Scheme = { syntax: FILE_SYNTAX, connect: openFile };

/** A checked file drain path: its real root and the names below it. */
interface Target {
  root: string;
  parts: string[];
  real: string;
}

/** Why a file drain could not write `path` under `roots` (as its drain would go FATAL), or null. */
export async function fileDrainPathProblem(path: string, roots: string[]): Promise<string | null> {
  try {
    await resolveUnderRoots(path, roots);
    return null;
  } catch (err) {
    return (err as Error).message;
  }
}

async function resolveUnderRoots(path: string, roots: string[]): Promise<Target> {
  const real = await resolveExisting(path);
  for (const root of roots) {
    const realRoot = await resolveExisting(resolve(root));
    const prefix = realRoot.endsWith('/') ? realRoot : realRoot + '/';
    if (real.startsWith(prefix)) return { root: realRoot, parts: real.slice(prefix.length).split('/'), real };
  }
  const resolvedNote = real === path ? '' : ` (resolves to "${real}")`;
  const rootList = roots.length > 0 ? roots.join(', ') : 'none configured';
  throw new DrainConfigError(`file drain path "${path}"${resolvedNote} is outside file_drain_roots (${rootList})`);
}
/**
 * The real path of `path`, which need not exist: the deepest existing ancestor is resolved
 * and the rest appended. A dangling symlink is followed too, since opening it would create
 * its target.
 */
async function resolveExisting(path: string, hops = 0): Promise<string> {
  try {
    return await realpath(path);
  } catch (err) {
    if (!isMissing(err)) throw err;
  }
  const parent = dirname(path);
  if (parent === path) return path;
  const candidate = join(await resolveExisting(parent, hops), basename(path));
  let link: string;
  try {
    link = await readlink(candidate);
  } catch {
    return candidate; // not a symlink: a name still to be created
  }
  if (hops >= MAX_SYMLINK_HOPS) throw new Error(`too many symlinks resolving "${path}"`);
  return resolveExisting(resolve(dirname(candidate), link), hops + 1);
}

function isMissing(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException).code;
  return code === 'ENOENT' || code === 'ENOTDIR';
}

interface FileId {
  dev: number;
  ino: number;
}

class FileTransport implements Transport {
  private closing: Promise<void> | null = null;
  private lastRotationCheck = Date.now();

  constructor(
    private readonly target: Target,
    private handle: FileHandle,
    private opened: FileId,
  ) {}

  /**
   * One awaited write per batch is the backpressure. A write cut short (ENOSPC, EFBIG) leaves
   * only whole lines: a torn last line is cut off again, and the lines written are reported
   * so the drain re-sends the rest only (no duplicate, no torn line, SENT = lines on disk).
   */
  async send(batch: OutBatch): Promise<void> {
    if (Date.now() - this.lastRotationCheck >= ROTATION_CHECK_MS) await this.reopenIfMoved();
    const bytes = Buffer.from(batch.lines.join(''));
    let written = 0;
    try {
      while (written < bytes.length) {
        written += (await this.handle.write(bytes, written, bytes.length - written)).bytesWritten;
      }
    } catch (err) {
      if (written === 0) throw err;
      const { lines, tornBytes } = wholeLines(batch.lines, written);
      if (tornBytes > 0) await this.cutTornLine(written, tornBytes);
      throw new PartialSendError(lines, err instanceof Error ? err : new Error(String(err)));
    }
  }

  /**
   * Removes the start of a line the write could not finish (shrinking a file needs no space).
   * The file is cut only when it still ends with this drain's write.
   */
  private async cutTornLine(written: number, tornBytes: number): Promise<void> {
    const { size } = await this.handle.stat();
    if (size >= written) await this.handle.truncate(size - tornBytes);
  }

  /**
   * Deleted, or renamed by logrotate: the path no longer leads to the open file, so lines
   * would go to an unlinked inode or the rotated file. Opens the path again (creating it).
   */
  private async reopenIfMoved(): Promise<void> {
    this.lastRotationCheck = Date.now();
    const now = await stat(this.target.real).catch(() => null);
    if (now && now.dev === this.opened.dev && now.ino === this.opened.ino) return;
    const handle = await openBeneath(this.target.root, this.target.parts);
    const old = this.handle;
    this.handle = handle;
    this.opened = await handle.stat();
    await old.close().catch(() => undefined);
  }

  onBroken(): void {
    // A file has no connection to lose: write errors reject send().
  }

  close(): Promise<void> {
    this.closing ??= this.handle.close();
    return this.closing;
  }
}

/** How many of `lines` the first `written` bytes hold whole, and the bytes of the next one's start. */
function wholeLines(lines: string[], written: number): { lines: number; tornBytes: number } {
  let end = 0;
  for (let i = 0; i < lines.length; i++) {
    const next = end + Buffer.byteLength(lines[i]);
    if (next > written) return { lines: i, tornBytes: written - end };
    end = next;
  }
  return { lines: lines.length, tornBytes: 0 };
}
