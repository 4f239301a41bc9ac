import { closeSync, fstatSync, openSync, readdirSync, readSync, statSync, type Stats } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { watch, type FSWatcher } from 'chokidar';
import { LineSplitter, type LineBytesHandler } from './lines.js';
import type { PathPattern } from './pattern.js';
import { PositionStore } from './positions.js';

/**
 * Receives the lines of one followed file, as strings (`line`) or as bytes (`lineBytes`, which
 * spares decoding them for a client that writes them into events as bytes).
 */
export type TailHandler = TailHandlerCommon & ({ line: TextLineHandler; lineBytes?: undefined } | { lineBytes: LineBytesHandler; line?: undefined });

/** One line, and the file offset of its first byte. */
export type TextLineHandler = (text: string, offset: number) => void;

interface TailHandlerCommon {
  /**
   * The file offset of the first line the handler holds without having published it yet (the
   * parts of a line it is joining), if any: the saved position never goes past it, so a restart
   * reads those lines again instead of losing them.
   */
  heldFrom?(): number | undefined;
  /**
   * The file was rotated so often before the tailer looked that rotated files were removed
   * unread: `files` of them (undefined when the file system cannot tell), written after `after`.
   */
  rotationGap?(after: Date, files: number | undefined): void;
  /** The file is no longer followed (deleted, rotated away, or the tailer stopped). */
  close?(): void;
}

/** A set of files to follow: a pattern, and what to do with each matching file. */
export interface TailSource {
  pattern: PathPattern;
  /** Longer lines of these files are cut (default: the tailer's maxLine). */
  maxLine?: number;
  /** Called for each file found; null means "not this one". */
  open(path: string, captures: Record<string, string>): TailHandler | null;
}

export type TailLogLevel = 'INFO' | 'WARN' | 'ERROR';

export interface TailerOptions {
  sources: TailSource[];
  /** JSON file of positions, e.g. <state_dir>/systail.positions.json. */
  positionsFile: string;
  /** Longer lines are cut into pieces of this many bytes. */
  maxLine: number;
  /** How often followed files are checked without a watcher event (ms). Default 250. */
  pollMs?: number;
  /** How often the patterns are scanned for new files (ms). Default 1000. */
  scanMs?: number;
  /** A file rotated away or deleted is read until it has been quiet this long (ms). Default 5000. */
  retireMs?: number;
  /** Bytes read from one file at a time. Default 1 MiB. */
  readBytes?: number;
  /** False while downstream (the publisher's queue) is full: reading pauses, nothing is dropped. */
  ready?: () => boolean;
  /**
   * Counters of the publisher the lines go to: a position is saved only once every event
   * published up to it was sent, so a restart or crash repeats nothing and loses nothing queued.
   */
  progress?: () => { published: number; sent: number };
  log?: (level: TailLogLevel, message: string) => void;
}

export interface TailerStats {
  /** Files followed now, and rotated or deleted ones still being read to their end. */
  files: number;
  retiring: number;
  lines: number;
  /** Lines longer than max_line, each cut into several events. */
  split: number;
  /** Lines skipped because they held NUL bytes or invalid UTF-8. */
  binary: number;
  /** Files matched by a pattern that could not be opened (e.g. permissions). */
  unreadable: number;
  rotations: number;
  truncations: number;
  /**
   * Rotated files removed unread: the file was rotated so often before the tailer looked that
   * rotated files between it and the oldest one left were removed (told to the handler). A lower
   * bound; 1 for each such rotation where the file system keeps no creation times.
   */
  rotationGaps: number;
}

interface Follower {
  path: string;
  captures: Record<string, string>;
  handler: TailHandler;
  fd: number;
  dev: number;
  ino: number;
  /** Bytes read from the file; readPos - pendingBytes have been emitted as lines. */
  readPos: number;
  splitter: LineSplitter;
  retiring: boolean;
  /** When data last arrived, or when the follower began retiring (ms). */
  activeAt: number;
  /** Offsets reached, with the publisher's published count at that time. */
  checkpoints: Array<{ mark: number; offset: number }>;
  /** The offset of the last checkpoint. */
  checkpointed: number;
  closed: boolean;
}

/**
 * Follows the files that match a set of patterns, from their end (or from their saved
 * position), through appends, rotation by rename+create, copytruncate, files that appear later
 * and files that vanish; hands every line to the handler of its file. The one file-following
 * mechanism of systail and apptail.
 */
/**
 * The kernel stamps a file's mtime from its coarse clock (one tick, up to ~10 ms, behind
 * Date.now()): a file written a few ms after the start can carry an mtime before it. Files
 * compared with the start get this much slack, so one rotated right after the start is read.
 */
const FILE_CLOCK_SLACK_MS = 20;

export class Tailer {
  private readonly opts: Required<Omit<TailerOptions, 'progress' | 'log'>> & Pick<TailerOptions, 'progress'>;
  private readonly log: (level: TailLogLevel, message: string) => void;
  private readonly positions: PositionStore;
  private readonly active = new Map<string, Follower>();
  private retiring: Follower[] = [];
  /** Closed followers whose last checkpoints await the publisher. */
  private closedPending: Follower[] = [];
  private readonly unreadable = new Set<string>();
  private readonly buf: Buffer;
  private readonly counters = { lines: 0, split: 0, binary: 0, unreadable: 0, rotations: 0, truncations: 0, rotationGaps: 0 };
  /** Per followed path, the rotated files (dev:ino) beside it already known, so new ones are told apart. */
  private readonly knownRotated = new Map<string, Set<string>>();
  private watchers: FSWatcher[] = [];
  private timers: NodeJS.Timeout[] = [];
  private pumpScheduled = false;
  private blockedTimer: NodeJS.Timeout | null = null;
  private scanTimer: NodeJS.Timeout | null = null;
  private started = false;
  /** When start() ran (ms): rotated files written since are news. */
  private startedAt = 0;
  private stopped = false;

  constructor(options: TailerOptions) {
    this.opts = {
      pollMs: 250,
      scanMs: 1000,
      retireMs: 5000,
      readBytes: 1 << 20,
      ready: () => true,
      ...options,
    };
    this.log = options.log ?? (() => {});
    this.positions = new PositionStore(options.positionsFile);
    this.buf = Buffer.allocUnsafe(this.opts.readBytes);
  }

  /** Finds the files, resumes saved positions (new files: from their end), starts following. */
  async start(): Promise<void> {
    if (this.started) return;
    this.started = true;
    this.startedAt = Date.now();
    const used = new Set<string>();
    for (const { source, path, captures, st } of this.unfollowedFiles()) {
      const saved = this.positions.get(st.dev, st.ino);
      used.add(`${st.dev}:${st.ino}`);
      let offset: number;
      if (saved) {
        offset = saved.offset <= st.size ? saved.offset : 0; // truncated while we were away
      } else {
        // Another file was here before: it was rotated while we were away, so this one is all new.
        offset = this.positions.atPath(path).length > 0 ? 0 : st.size;
      }
      this.openFollower(source, path, captures, offset, false);
    }
    // Saved files no longer at their path: rotated away while we were stopped. Read their rest.
    for (const p of this.positions.all()) {
      if (used.has(`${p.dev}:${p.ino}`)) continue;
      const found = findByInode(dirname(p.path), p.dev, p.ino);
      const source = this.opts.sources.find((s) => s.pattern.match(p.path));
      if (!found || !source) {
        this.positions.delete(p.dev, p.ino);
        continue;
      }
      const f = this.openFollower(source, found, source.pattern.match(p.path) ?? {}, p.offset, true, p.path);
      if (f) this.log('INFO', `reading the rest of ${found} (was ${p.path}) from byte ${p.offset}`);
    }
    this.positions.save();
    for (const source of this.opts.sources) this.watch(source);
    this.timers.push(setInterval(() => this.kick(), this.opts.pollMs));
    this.timers.push(setInterval(() => this.commit(), Math.max(100, this.opts.pollMs)));
    this.timers.push(setInterval(() => this.scan(), this.opts.scanMs));
    this.kick();
  }

  stats(): TailerStats {
    const all = [...this.active.values(), ...this.retiring];
    const sum = (k: 'lines' | 'split' | 'binary'): number => all.reduce((n, f) => n + f.splitter.counters[k], this.counters[k]);
    return {
      files: this.active.size,
      retiring: this.retiring.length,
      lines: sum('lines'),
      split: sum('split'),
      binary: sum('binary'),
      unreadable: this.counters.unreadable,
      rotations: this.counters.rotations,
      truncations: this.counters.truncations,
      rotationGaps: this.counters.rotationGaps,
    };
  }

  /** Stops reading and watching; files stay open until `close()`. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    for (const t of this.timers) clearInterval(t);
    if (this.blockedTimer) clearTimeout(this.blockedTimer);
    if (this.scanTimer) clearTimeout(this.scanTimer);
    await Promise.all(this.watchers.map((w) => w.close().catch(() => {})));
    this.watchers = [];
  }

  /**
   * Saves the positions of what was delivered (call after the publisher flushed) and closes
   * the files. Unfinished last lines stay unread, so the next start picks them up whole.
   */
  async close(): Promise<void> {
    await this.stop();
    this.commit();
    for (const f of [...this.active.values(), ...this.retiring]) {
      closeSync(f.fd);
      f.closed = true;
      f.handler.close?.();
    }
    this.active.clear();
    this.retiring = [];
    this.positions.save();
  }

  private openFollower(source: TailSource, path: string, captures: Record<string, string>, offset: number, retiring: boolean, savedPath = path): Follower | null {
    let fd: number;
    try {
      fd = openSync(path, 'r');
    } catch (err) {
      this.noteUnreadable(path, (err as NodeJS.ErrnoException).code ?? (err as Error).message);
      return null;
    }
    if (this.unreadable.delete(path)) this.log('INFO', `${path} is readable now`);
    const handler = source.open(savedPath, captures);
    if (!handler) {
      closeSync(fd);
      return null;
    }
    const st = fstatSync(fd);
    if (!retiring && !this.knownRotated.has(savedPath)) this.knownRotated.set(savedPath, new Set(rotatedFiles(savedPath).map((r) => r.id)));
    const f: Follower = {
      path: savedPath,
      captures,
      handler,
      fd,
      dev: st.dev,
      ino: st.ino,
      readPos: offset,
      splitter: null as unknown as LineSplitter,
      retiring,
      activeAt: Date.now(),
      checkpoints: [],
      checkpointed: offset,
      closed: false,
    };
    const bytes: LineBytesHandler | undefined = handler.lineBytes && ((buf, start, end, at, part) => handler.lineBytes?.(buf, start, end, at, part));
    f.splitter = new LineSplitter(source.maxLine ?? this.opts.maxLine, (text, at) => handler.line?.(text, at), offset, bytes);
    this.positions.set({ path: savedPath, dev: st.dev, ino: st.ino, offset });
    if (retiring) this.retiring.push(f);
    else this.active.set(path, f);
    return f;
  }

  /** Counts a matching file that cannot be read, once until it becomes readable. */
  private noteUnreadable(path: string, why: string): void {
    if (this.unreadable.has(path)) return;
    this.unreadable.add(path);
    this.counters.unreadable++;
    this.log('WARN', `cannot read ${path}: ${why}; skipping it, will try again`);
  }

  private watch(source: TailSource): void {
    const { baseDir, depth } = source.pattern;
    if (!statOrNull(baseDir)?.isDirectory()) return; // the periodic scan finds it once it exists
    const w = watch(baseDir, { ignoreInitial: true, depth: Math.max(0, depth - 1), atomic: false, alwaysStat: false });
    w.on('add', () => this.scheduleScan());
    w.on('addDir', () => this.scheduleScan());
    w.on('change', () => this.kick());
    w.on('unlink', () => this.kick());
    w.on('error', (err) => this.log('WARN', `watching ${baseDir}: ${(err as Error).message}`));
    this.watchers.push(w);
  }

  private scheduleScan(): void {
    if (this.scanTimer || this.stopped) return;
    this.scanTimer = setTimeout(() => {
      this.scanTimer = null;
      this.scan();
    }, 10);
  }

  /** Opens files that match a pattern and are not followed yet; those appeared after the start. */
  private scan(): void {
    if (this.stopped) return;
    let opened = false;
    for (const { source, path, captures, st } of this.unfollowedFiles()) {
      // A rotated file still being read under its old name is not new.
      if (this.retiring.some((f) => f.dev === st.dev && f.ino === st.ino)) continue;
      this.followFreshRotated(source, path, captures);
      if (this.openFollower(source, path, captures, 0, false)) {
        this.log('INFO', `following ${path}`);
        opened = true;
      }
    }
    if (opened) this.kick();
  }

  /** Files that match a source's pattern, exist, and are not followed yet. */
  private *unfollowedFiles(): Generator<{ source: TailSource; path: string; captures: Record<string, string>; st: Stats }> {
    for (const source of this.opts.sources) {
      for (const { path, captures } of source.pattern.scan()) {
        if (this.active.has(path)) continue;
        const st = statOrNull(path);
        if (st) yield { source, path, captures, st };
        else this.noteUnreadable(path, 'ENOENT');
      }
    }
  }

  private kick(): void {
    if (this.pumpScheduled || this.stopped || this.blockedTimer) return;
    this.pumpScheduled = true;
    setImmediate(() => this.pump());
  }

  private pump(): void {
    this.pumpScheduled = false;
    if (this.stopped) return;
    let more = false;
    // Rotated files first: their lines are older than the new file's.
    for (const f of [...this.retiring, ...this.active.values()]) {
      if (!this.opts.ready()) {
        this.blockedTimer = setTimeout(() => {
          this.blockedTimer = null;
          this.kick();
        }, 10);
        return;
      }
      if (this.step(f)) {
        more = true;
        // A rotated file with more to read holds the newer ones back, so lines stay in order.
        if (f.retiring) break;
      }
    }
    if (more) this.kick();
  }

  /** Reads what is new in one file; true when there may be more right away. */
  private step(f: Follower): boolean {
    if (f.closed) return false;
    let n: number;
    try {
      n = readSync(f.fd, this.buf, 0, this.buf.length, f.readPos);
    } catch (err) {
      this.log('WARN', `reading ${f.path}: ${(err as Error).message}`);
      this.retire(f);
      this.closeFollower(f);
      return false;
    }
    if (n > 0) {
      f.readPos += n;
      f.activeAt = Date.now();
      f.splitter.push(this.buf.subarray(0, n));
      this.checkpoint(f);
      if (n === this.buf.length) return true;
    }
    // At the end of what is there now: truncated? rotated? gone?
    const st = fstatSync(f.fd);
    if (st.size < f.readPos) {
      this.counters.truncations++;
      this.log('INFO', `${f.path} was truncated; reading it from the start`);
      // copytruncate: the copy beside it holds what was read already; it is no rotated file to read.
      if (!f.retiring) this.knownRotated.set(f.path, new Set(rotatedFiles(f.path).map((r) => r.id)));
      f.readPos = 0;
      f.splitter.reset();
      f.checkpoints.push({ mark: this.published(), offset: 0 });
      f.checkpointed = 0;
      return true;
    }
    if (f.retiring) {
      if (Date.now() - f.activeAt > this.opts.retireMs) this.closeFollower(f);
      return false;
    }
    const now = statOrNull(f.path);
    if (!now || now.dev !== f.dev || now.ino !== f.ino) {
      // Renamed or deleted: read on from the open file while it is written to; a new file at
      // the path is found by the next scan and read from its start.
      this.counters.rotations++;
      this.log('INFO', now ? `${f.path} was rotated; following the new file` : `${f.path} is gone; reading what is still written to it`);
      this.retire(f);
      this.followRotated(f);
      if (now) this.scan();
      return true;
    }
    return false;
  }

  private retire(f: Follower): void {
    if (f.retiring) return;
    if (this.active.get(f.path) === f) this.active.delete(f.path);
    f.retiring = true;
    f.activeAt = Date.now();
    this.retiring.push(f);
  }

  /**
   * Rotated files beside `f` that were not there before: files that were created and rotated
   * away again before the tailer looked (Docker's json-file with a small max-size, logrotate
   * run twice). Read from their start, oldest first, after the rest of `f` and before the new
   * file. When `f` itself was already removed, rotated files older than the oldest left may
   * have been removed unread too: counted, logged and told to the handler.
   */
  private followRotated(f: Follower): void {
    const known = this.knownRotated.get(f.path) ?? new Set<string>();
    const followed = this.followedIds();
    const rotated = rotatedFiles(f.path);
    const unseen = rotated.filter((r) => !known.has(r.id) && !followed.has(r.id));
    this.knownRotated.set(f.path, new Set(rotated.map((r) => r.id)));
    const source = this.opts.sources.find((s) => s.pattern.match(f.path));
    if (!source) return;
    const lost = unseen.length > 0 ? removedUnread(f.fd, rotated, unseen) : 0;
    if (lost !== 0) {
      this.counters.rotationGaps += Math.max(1, lost);
      const after = new Date(Number(fstatSync(f.fd, { bigint: true }).mtimeNs / 1_000_000n));
      this.log('WARN', `${f.path} was rotated faster than it was read: ${lost > 0 ? `${lost} rotated file(s)` : 'rotated files'} written after ${after.toISOString()} were removed unread`);
      f.handler.rotationGap?.(after, lost > 0 ? lost : undefined);
    }
    for (const r of unseen) {
      if (this.openFollower(source, r.path, f.captures, 0, true, f.path)) this.log('INFO', `reading ${r.path}, rotated away before it was followed`);
    }
  }

  /**
   * A file that appeared after the start may have been rotated already before it was found (a new
   * container writing fast): its rotated files written since the start are read first, oldest first.
   */
  private followFreshRotated(source: TailSource, path: string, captures: Record<string, string>): void {
    if (this.knownRotated.has(path)) return;
    const followed = this.followedIds();
    for (const r of rotatedFiles(path)) {
      if (r.mtime < this.startedAt - FILE_CLOCK_SLACK_MS || followed.has(r.id)) continue;
      if (this.openFollower(source, r.path, captures, 0, true, path)) this.log('INFO', `reading ${r.path}, rotated away before ${path} was found`);
    }
  }

  private followedIds(): Set<string> {
    return new Set([...this.active.values(), ...this.retiring, ...this.closedPending].map((x) => `${x.dev}:${x.ino}`));
  }

  private closeFollower(f: Follower): void {
    if (f.closed) return;
    f.closed = true;
    f.splitter.end();
    // The handler may publish what it held (the end of a partial line): the mark comes after.
    f.handler.close?.();
    f.checkpoints.push({ mark: this.published(), offset: f.readPos });
    try {
      closeSync(f.fd);
    } catch {
      // already closed
    }
    this.retiring = this.retiring.filter((x) => x !== f);
    if (this.active.get(f.path) === f) this.active.delete(f.path);
    for (const k of ['lines', 'split', 'binary'] as const) this.counters[k] += f.splitter.counters[k];
    f.splitter.counters.lines = f.splitter.counters.split = f.splitter.counters.binary = 0;
    this.closedPending.push(f);
    if (![...this.active.values(), ...this.retiring].some((x) => x.path === f.path)) this.knownRotated.delete(f.path);
  }

  private published(): number {
    return this.opts.progress ? this.opts.progress().published : 0;
  }

  /**
   * Notes how far `f` can be resumed from once what was published until now is sent: up to its
   * last whole line, but not past a line its handler still holds.
   */
  private checkpoint(f: Follower): void {
    const held = f.handler.heldFrom?.();
    const offset = Math.min(f.readPos - f.splitter.pendingBytes, held ?? Infinity);
    if (offset === f.checkpointed && f.checkpoints.length > 0) return;
    f.checkpoints.push({ mark: this.published(), offset });
    f.checkpointed = offset;
  }

  /** Saves the positions every event before which has been sent. */
  private commit(): void {
    // A handler that published what it held since the last read lets the position move on.
    for (const f of [...this.active.values(), ...this.retiring]) if (f.handler.heldFrom) this.checkpoint(f);
    const sent = this.opts.progress ? this.opts.progress().sent : Infinity;
    const settle = (f: Follower): void => {
      let offset = -1;
      while (f.checkpoints.length && f.checkpoints[0].mark <= sent) offset = f.checkpoints.shift()!.offset;
      if (offset >= 0) this.positions.set({ path: f.path, dev: f.dev, ino: f.ino, offset });
    };
    for (const f of [...this.active.values(), ...this.retiring]) settle(f);
    this.closedPending = this.closedPending.filter((f) => {
      settle(f);
      if (f.checkpoints.length) return true;
      this.positions.delete(f.dev, f.ino);
      return false;
    });
    try {
      this.positions.save();
    } catch (err) {
      this.log('WARN', `cannot save positions to ${this.positions.file}: ${(err as Error).message}`);
    }
  }
}

function statOrNull(path: string): Stats | null {
  try {
    return statSync(path);
  } catch {
    return null;
  }
}

function findByInode(dir: string, dev: number, ino: number): string | null {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return null;
  }
  for (const name of names) {
    const st = statOrNull(join(dir, name));
    if (st && st.isFile() && st.dev === dev && st.ino === ino) return join(dir, name);
  }
  return null;
}


/**
 * The rotated files beside `path`: `<name>.<anything>` in its directory (Docker's `-json.log.1`,
 * logrotate's `.1` or `-20240101`-style `.<date>`), not compressed ones, oldest first: by number
 * where the suffix is one (a higher number is older), else by modification time.
 */
interface RotatedFile {
  path: string;
  id: string;
  mtime: number;
  /** The suffix as a number (`.3`), else NaN. */
  number: number;
  /** Creation time (statx), 0n where the file system does not keep it. */
  birthNs: bigint;
}

/**
 * How many rotated files were removed unread since the followed file (`fd`) was current: 0 when
 * it is still there. Rotation removes the oldest file before it creates the new one, so the files
 * created before the followed one was removed are those of the rotations it went through while
 * kept, as many as there are places for rotated files (the highest number, else their count);
 * those of them no longer there were removed unread. -1: removed, but the file system keeps no
 * creation times to tell how many.
 */
function removedUnread(fd: number, rotated: RotatedFile[], unseen: RotatedFile[]): number {
  const st = fstatSync(fd, { bigint: true });
  if (st.nlink > 0n) return 0;
  if (unseen.some((r) => r.birthNs === 0n)) return -1;
  const numbers = rotated.map((r) => r.number).filter((n) => !Number.isNaN(n));
  const places = numbers.length > 0 ? Math.max(...numbers) : rotated.length;
  // Strictly before: the file the removing rotation created often has the same (coarse) time.
  const kept = unseen.filter((r) => r.birthNs < st.ctimeNs).length;
  return Math.max(0, places - kept);
}

function rotatedFiles(path: string): RotatedFile[] {
  const dir = dirname(path);
  const prefix = `${basename(path)}.`;
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  const found: RotatedFile[] = [];
  for (const name of names) {
    if (!name.startsWith(prefix) || /\.(gz|xz|bz2|zst|lz4|zip)$/.test(name)) continue;
    const full = join(dir, name);
    let st;
    try {
      st = statSync(full, { bigint: true });
    } catch {
      continue;
    }
    if (!st.isFile()) continue;
    const suffix = name.slice(prefix.length);
    found.push({ path: full, id: `${st.dev}:${st.ino}`, number: /^\d+$/.test(suffix) ? Number(suffix) : NaN, mtime: Number(st.mtimeMs), birthNs: st.birthtimeNs });
  }
  found.sort((a, b) => (Number.isNaN(a.number) || Number.isNaN(b.number) ? a.mtime - b.mtime : b.number - a.number));
  return found;
}
