import { execFile, spawn, type ChildProcessByStdio } from 'node:child_process';
import { accessSync, constants, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';
import { JournalReadError, JournalUnavailableError } from './errors.js';

/** Which journal to read: a directory, or (undefined) this machine's system journal. */
export type JournalSource = string | undefined;

/** Lines of `journalctl -o json` longer than this are skipped (counted): no event could carry them. */
export const MAX_LINE_CHARS = 16 * 1024 * 1024;
const PREFLIGHT_TIMEOUT_MS = 30_000;
const STDERR_KEPT = 4096;

export function describeSource(directory: JournalSource): string {
  return directory === undefined ? 'the system journal' : `the journal in ${directory}`;
}

/**
 * The arguments that pick the journal. `--merge` keeps `--follow` from implying `--boot`, which
 * would skip the entries of the previous boot written after our cursor (logyard stops before
 * journald at shutdown). Merging also takes in other machines' journals (a journal-remote host),
 * so the system journal is narrowed to this machine's entries by `_MACHINE_ID`.
 */
function sourceArgs(directory: JournalSource): string[] {
  if (directory !== undefined) return ['--merge', `--directory=${directory}`];
  const machineId = thisMachineId();
  return ['--merge', ...(machineId ? [`_MACHINE_ID=${machineId}`] : [])];
}

function thisMachineId(): string | null {
  try {
    const id = readFileSync('/etc/machine-id', 'utf8').trim();
    return /^[0-9a-f]{32}$/.test(id) ? id : null;
  } catch {
    return null;
  }
}

const JOURNALCTL_NOT_FOUND = "journalctl not found on the PATH: the journal client reads the journal with systemd's journalctl (Debian: apt install systemd)";

function notFound(): JournalUnavailableError {
  return new JournalUnavailableError(JOURNALCTL_NOT_FOUND);
}

/** Why a configured journal directory cannot be read (missing, not a directory, no permission), or null. */
export function journalDirectoryProblem(directory: string): string | null {
  try {
    if (!statSync(directory).isDirectory()) return `${directory}: not a directory`;
    accessSync(directory, constants.R_OK | constants.X_OK);
    return null;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return `${directory}: no such directory`;
    if (code === 'EACCES' || code === 'EPERM') return `${directory}: not readable by this user (${code})`;
    return `${directory}: ${(err as Error).message}`;
  }
}

/** Why journalctl cannot be run from the PATH (it is not on it), or null. */
export function journalctlProblem(path = process.env.PATH ?? ''): string | null {
  for (const dir of path.split(':')) {
    if (dir === '') continue;
    try {
      accessSync(join(dir, 'journalctl'), constants.X_OK);
      return null;
    } catch {
      // not in this one
    }
  }
  return JOURNALCTL_NOT_FOUND;
}

/**
 * Checks that the journal can be read, and returns the cursor of its last entry (null for an
 * empty journal) and what journalctl warned about (e.g. that a user outside the systemd-journal
 * group sees only his own entries). Throws JournalUnavailableError when journalctl is missing or
 * cannot read the journal at all.
 */
export async function probeJournal(directory: JournalSource): Promise<{ lastCursor: string | null; warnings: string[] }> {
  const problem = directory === undefined ? null : journalDirectoryProblem(directory);
  if (problem) throw new JournalUnavailableError(`journal.directory ${problem}`);
  const args = ['--output=json', '--lines=1', '--no-pager', ...sourceArgs(directory)];
  const { code, stdout, stderr } = await new Promise<{ code: number | string | null; stdout: string; stderr: string }>((resolve) => {
    execFile('journalctl', args, { timeout: PREFLIGHT_TIMEOUT_MS, maxBuffer: 2 * MAX_LINE_CHARS }, (err, out, errOut) => {
      const e = err as (NodeJS.ErrnoException & { code?: number | string }) | null;
      resolve({ code: e ? (e.code ?? 1) : 0, stdout: out, stderr: errOut });
    });
  });
  if (code === 'ENOENT') throw notFound();
  const warnings = stderr.split('\n').map((l) => l.trim()).filter((l) => l !== '');
  if (code !== 0) {
    const why = warnings.join('; ') || `exit code ${code}`;
    throw new JournalUnavailableError(`journalctl cannot read ${describeSource(directory)}: ${why}`);
  }
  const last = stdout.split('\n').find((l) => l.startsWith('{'));
  let lastCursor: string | null = null;
  if (last) {
    try {
      const cursor = (JSON.parse(last) as { __CURSOR?: unknown }).__CURSOR;
      if (typeof cursor === 'string') lastCursor = cursor;
    } catch {
      // Not JSON: treated as an empty journal; following will tell if something is wrong.
    }
  }
  return { lastCursor, warnings };
}

export interface FollowerOptions {
  directory: JournalSource;
  /** Follow from after this entry; null: from the journal's start (an empty journal at the first start). */
  after: string | null;
  /** The complete lines of one read from journalctl, in order. */
  lines: (lines: string[]) => void;
  /** A line too long to be an event was skipped. */
  tooLong: () => void;
  /** Something journalctl wrote on stderr while following. */
  warn: (message: string) => void;
  /** journalctl ended on its own (not by stop()). */
  ended: (error: JournalReadError) => void;
}

/**
 * `journalctl --follow --output=json` as a source of lines. Reading pauses on request, and then
 * journalctl blocks on its full pipe: the journal itself is the buffer, nothing is lost.
 */
export class JournalctlFollower {
  private readonly child: ChildProcessByStdio<null, Readable, Readable>;
  private readonly decoder = new StringDecoder('utf8');
  private rest = '';
  /** Inside a line that was too long, until its end. */
  private skipping = false;
  private stopping = false;
  private stderrTail = '';
  private readonly closed: Promise<void>;

  constructor(private readonly opts: FollowerOptions) {
    const args = [
      '--output=json',
      // Values above 4 KiB would otherwise be printed as null.
      '--all',
      '--follow',
      '--no-pager',
      // Every entry after the cursor (or from the start): --follow alone shows the first 10 of
      // them and then waits for the journal to change before going on.
      '--no-tail',
      ...(opts.after === null ? [] : [`--after-cursor=${opts.after}`]),
      ...sourceArgs(opts.directory),
    ];
    this.child = spawn('journalctl', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child.stdout.on('data', (chunk: Buffer) => this.read(chunk));
    this.child.stderr.setEncoding('utf8').on('data', (text: string) => {
      this.stderrTail = (this.stderrTail + text).slice(-STDERR_KEPT);
      for (const line of text.split('\n')) if (line.trim() !== '') opts.warn(`journalctl: ${line.trim()}`);
    });
    this.closed = new Promise((resolve) => {
      this.child.on('error', (err) => {
        if (!this.stopping) opts.ended((err as NodeJS.ErrnoException).code === 'ENOENT' ? notFound() : new JournalReadError(`journalctl could not be started: ${err.message}`, { cause: err }));
        resolve();
      });
      this.child.on('close', (code, signal) => {
        if (!this.stopping) {
          const how = signal ? `was killed by ${signal}` : `exited with code ${code}`;
          const said = this.stderrTail.trim().split('\n').pop();
          opts.ended(new JournalReadError(`journalctl ${how} while following ${describeSource(opts.directory)}${said ? `: ${said}` : ''}`));
        }
        resolve();
      });
    });
  }

  pause(): void {
    this.child.stdout.pause();
  }

  resume(): void {
    this.child.stdout.resume();
  }

  /** Stops journalctl; lines not yet delivered are read again after the saved cursor next time. */
  async stop(): Promise<void> {
    this.stopping = true;
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGTERM');
    // What is left in the pipe is not read: a paused stdout would otherwise never end.
    this.child.stdout.destroy();
    await this.closed;
  }

  private read(chunk: Buffer): void {
    if (this.stopping) return;
    const text = this.decoder.write(chunk);
    let from = 0;
    const lines: string[] = [];
    for (;;) {
      const nl = text.indexOf('\n', from);
      if (nl < 0) break;
      const piece = text.slice(from, nl);
      from = nl + 1;
      if (this.skipping) {
        this.skipping = false;
        continue;
      }
      const line = this.rest === '' ? piece : this.rest + piece;
      this.rest = '';
      if (line !== '') lines.push(line);
    }
    if (!this.skipping) {
      this.rest += text.slice(from);
      if (this.rest.length > MAX_LINE_CHARS) {
        this.rest = '';
        this.skipping = true;
        this.opts.tooLong();
      }
    }
    if (lines.length > 0) this.opts.lines(lines);
  }
}
