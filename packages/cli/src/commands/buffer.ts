import type { Command } from 'commander';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { checkQueue, type QueueCheck } from '@logyard/drains';
import { compareNames, drainNameProblem } from '@logyard/store';
import { configOf } from '../context.js';
import { EXIT_RUNTIME, usageError } from '../errors.js';
import { fetchCoreStatus } from '../status-client.js';
import { formatTable } from '../table.js';

export function registerBufferCommands(program: Command): void {
  const buffer = program.command('buffer').description('the disk queues of drains with disk=SIZE');

  buffer
    .command('check')
    .description('NAME  SEGMENTS  EVENTS  BYTES  CORRUPT of the disk queues (all, or those named); exit 1 when a record is corrupt')
    .argument('[names...]', 'drain names')
    .action(async (names: string[], _opts: unknown, cmd: Command) => {
      const config = configOf(cmd);
      for (const name of names) {
        const problem = drainNameProblem(name);
        if (problem) throw usageError(problem);
      }
      const dir = join(config.stateDir, 'buffers');
      const present = await readdir(dir, { withFileTypes: true }).then(
        (entries) => entries.filter((e) => e.isDirectory()).map((e) => e.name),
        () => [] as string[],
      );
      const wanted = (names.length > 0 ? names : present).sort(compareNames);
      // Beside a running core, the record at the end of a queue may be half written: not corrupt.
      const live = await fetchCoreStatus(config.runDir, 1000).then(
        () => true,
        () => false,
      );
      const rows: string[][] = [['NAME', 'SEGMENTS', 'EVENTS', 'BYTES', 'CORRUPT']];
      const missing: string[] = [];
      let corrupt = 0;
      for (const name of wanted) {
        if (!present.includes(name)) {
          missing.push(name);
          continue;
        }
        const check: QueueCheck = await checkQueue(join(dir, name), live);
        corrupt += check.corrupt;
        rows.push([name, String(check.segments), String(check.events), String(check.bytes), String(check.corrupt)]);
      }
      if (rows.length > 1) process.stdout.write(formatTable(rows));
      else if (names.length === 0) process.stdout.write(`no disk queues in ${dir}\n`);
      for (const name of missing) process.stderr.write(`logyard: no disk queue for drain ${name} in ${dir}\n`);
      if (corrupt > 0) process.stderr.write(`logyard: ${corrupt} corrupt record${corrupt === 1 ? '' : 's'} (the core skips them, counted as corrupt)\n`);
      if (corrupt > 0 || missing.length > 0) process.exitCode = EXIT_RUNTIME;
    });
}
