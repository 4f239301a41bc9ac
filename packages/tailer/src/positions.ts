import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

/** Where reading of one file (by device and inode) stopped: every byte before `offset` was delivered. */
export interface Position {
  path: string;
  dev: number;
  ino: number;
  offset: number;
}

/**
 * Positions of followed files, kept in one JSON file (written to a temporary file, then renamed,
 * so a crash leaves the old or the new version, never half of one).
 */
export class PositionStore {
  private entries = new Map<string, Position>();
  private dirty = false;

  constructor(readonly file: string) {
    try {
      const data = JSON.parse(readFileSync(file, 'utf8')) as { files?: Position[] };
      for (const p of data.files ?? []) {
        if (typeof p.path === 'string' && Number.isFinite(p.dev) && Number.isFinite(p.ino) && Number.isFinite(p.offset)) {
          this.entries.set(idOf(p.dev, p.ino), p);
        }
      }
    } catch {
      // No file yet (first start) or an unreadable one: start without positions.
    }
  }

  get(dev: number, ino: number): Position | undefined {
    return this.entries.get(idOf(dev, ino));
  }

  /** The entries last seen at `path`. */
  atPath(path: string): Position[] {
    return [...this.entries.values()].filter((p) => p.path === path);
  }

  all(): Position[] {
    return [...this.entries.values()];
  }

  set(p: Position): void {
    const id = idOf(p.dev, p.ino);
    const old = this.entries.get(id);
    if (old && old.offset === p.offset && old.path === p.path) return;
    this.entries.set(id, { ...p });
    this.dirty = true;
  }

  delete(dev: number, ino: number): void {
    if (this.entries.delete(idOf(dev, ino))) this.dirty = true;
  }

  save(): void {
    if (!this.dirty) return;
    mkdirSync(dirname(this.file), { recursive: true });
    const tmp = `${this.file}.tmp`;
    writeFileSync(tmp, JSON.stringify({ version: 1, files: this.all() }, null, 1) + '\n');
    renameSync(tmp, this.file);
    this.dirty = false;
  }
}

function idOf(dev: number, ino: number): string {
  return `${dev}:${ino}`;
}
