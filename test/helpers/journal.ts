import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

/** Where Debian puts systemd-journal-remote (package systemd-journal-remote, installed by scripts/setup.sh). */
const JOURNAL_REMOTE = ['/lib/systemd/systemd-journal-remote', '/usr/lib/systemd/systemd-journal-remote'].find((p) => existsSync(p));

/** One journal entry's fields; a Buffer is written as binary data. */
export type ExportEntry = Record<string, string | Buffer>;

/** Boot ID of the entries written by tests (any 128-bit hex id does). */
export const TEST_BOOT_ID = '0123456789abcdef0123456789abcdef';

let monotonic = 1;

/** An entry in the Journal Export Format: `NAME=value` lines, binary values length-prefixed (64-bit LE). */
function exportEntry(fields: ExportEntry): Buffer {
  const now = `${Date.now()}000`;
  const all: ExportEntry = { __REALTIME_TIMESTAMP: now, __MONOTONIC_TIMESTAMP: String(monotonic++), _BOOT_ID: TEST_BOOT_ID, ...fields };
  const parts: Buffer[] = [];
  for (const [name, value] of Object.entries(all)) {
    if (typeof value === 'string' && !value.includes('\n')) {
      parts.push(Buffer.from(`${name}=${value}\n`));
    } else {
      const data = typeof value === 'string' ? Buffer.from(value) : value;
      const size = Buffer.alloc(8);
      size.writeBigUInt64LE(BigInt(data.length));
      parts.push(Buffer.from(`${name}\n`), size, data, Buffer.from('\n'));
    }
  }
  parts.push(Buffer.from('\n'));
  return Buffer.concat(parts);
}

/**
 * Appends entries to `<dir>/test.journal` with systemd-journal-remote, the way a real journal is
 * written (journalctl --directory=<dir> follows it).
 */
export function writeJournal(dir: string, entries: ExportEntry[]): Promise<void> {
  if (!JOURNAL_REMOTE) throw new Error('systemd-journal-remote is not installed: run scripts/setup.sh (Debian package systemd-journal-remote)');
  const input = Buffer.concat(entries.map(exportEntry));
  return new Promise((resolve, reject) => {
    const child = spawn(JOURNAL_REMOTE, [`--output=${join(dir, 'test.journal')}`, '-'], { stdio: ['pipe', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`systemd-journal-remote exited with ${code}: ${stderr}`))));
    // A child that exits without reading its input closes the pipe: its exit code tells what
    // happened, so EPIPE on our side is not an error of the test.
    child.stdin.on('error', () => {});
    child.stdin.end(input);
  });
}
