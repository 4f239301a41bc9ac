import { mkdir, open, readlink, realpath, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { DrainConfigError } from '../errors.js';
import { isBoolean } from '../params.js';
import type { OutBatch, Transport, TransportFactory } from '../transport.js';
import type { SchemeSyntax } from '../uri.js';

export const FILE_SYNTAX: SchemeSyntax = { target: 'file', params: { overwrite: isBoolean } };

/** Symlink hops followed before giving up, as the kernel does (ELOOP). */
const MAX_SYMLINK_HOPS = 40;

/**
 * Appends lines to a file under one of `file_drain_roots`. The check resolves symlinks, and
 * the file opened is the resolved path that was checked.
 */
export const openFile: TransportFactory = async (spec, ctx) => {
  const path = spec.path ?? '';
  const real = await realPathUnderRoots(path, ctx.fileDrainRoots);
  await mkdir(dirname(real), { recursive: true });
  const truncate = spec.params.overwrite === 'true' && !ctx.reconnect;
  return new FileTransport(await open(real, truncate ? 'w' : 'a'));
};

async function realPathUnderRoots(path: string, roots: string[]): Promise<string> {
  const real = await resolveExisting(path);
  for (const root of roots) {
    const realRoot = await resolveExisting(resolve(root));
    const prefix = realRoot.endsWith('/') ? realRoot : realRoot + '/';
    if (real.startsWith(prefix)) return real;
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

class FileTransport implements Transport {
  private closing: Promise<void> | null = null;

  constructor(private readonly handle: FileHandle) {}

  async send(batch: OutBatch): Promise<void> {
    // One awaited write per batch is the backpressure; writeFile loops over short writes.
    await this.handle.appendFile(batch.lines.join(''));
  }

  onBroken(): void {
    // A file has no connection to lose: write errors reject send().
  }

  close(): Promise<void> {
    this.closing ??= this.handle.close();
    return this.closing;
  }
}
