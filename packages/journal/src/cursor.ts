import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

/** Where the journal client keeps its cursor: `<state_dir>/journal.cursor.json`. */
export function journalCursorFile(stateDir: string): string {
  return join(stateDir, 'journal.cursor.json');
}

/** A cursor as journalctl prints it: `s=...;i=...;b=...;m=...;t=...;x=...`. */
const CURSOR_RE = /^s=[0-9a-f]+;i=[0-9a-f]+;b=[0-9a-f]+;m=[0-9a-f]+;t=[0-9a-f]+;x=[0-9a-f]+$/;

/**
 * The cursor of the last entry the core has confirmed, with the journal it belongs to (the
 * system's, or a directory): a cursor of another journal means nothing here, so changing
 * `journal.directory` starts the new journal from its end. Written to a temporary file and
 * renamed, so a crash leaves the old or the new cursor, never half of one.
 */
export class CursorFile {
  private saved: string | null = null;

  constructor(
    readonly file: string,
    /** `system` or the journal directory. */
    readonly journal: string,
  ) {}

  /** The saved cursor of this journal; null when there is none, with why when a file was there. */
  load(): { cursor: string | null; problem?: string } {
    let text: string;
    try {
      text = readFileSync(this.file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { cursor: null };
      return { cursor: null, problem: `cannot read ${this.file}: ${(err as Error).message}` };
    }
    let data: { journal?: unknown; cursor?: unknown };
    try {
      data = JSON.parse(text) as typeof data;
    } catch {
      return { cursor: null, problem: `${this.file} is not JSON` };
    }
    if (typeof data.cursor !== 'string' || !CURSOR_RE.test(data.cursor)) return { cursor: null, problem: `${this.file} holds no journal cursor` };
    if (data.journal !== this.journal) return { cursor: null, problem: `${this.file} is the cursor of another journal (${String(data.journal)})` };
    this.saved = data.cursor;
    return { cursor: data.cursor };
  }

  save(cursor: string): void {
    if (cursor === this.saved) return;
    mkdirSync(dirname(this.file), { recursive: true });
    const tmp = `${this.file}.tmp`;
    writeFileSync(tmp, JSON.stringify({ version: 1, journal: this.journal, cursor }) + '\n');
    renameSync(tmp, this.file);
    this.saved = cursor;
  }
}
