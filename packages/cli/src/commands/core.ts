import type { Command } from 'commander';
import { Core } from '@logyard/core';
import { configOf } from '../context.js';

export function registerCoreCommands(program: Command): void {
  program
    .command('core')
    .description('run the core alone until SIGINT/SIGTERM')
    .action(async (_opts: unknown, cmd: Command) => runCore(cmd));
  program
    .command('start')
    .description('run this node: the core plus the clients enabled in the config, until SIGINT/SIGTERM')
    .action(async (_opts: unknown, cmd: Command) => runCore(cmd));
}

async function runCore(cmd: Command): Promise<void> {
  const config = configOf(cmd);
  const core = await Core.start({ config });
  await new Promise<void>((resolve) => {
    const stop = (): void => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      resolve();
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
  await core.close();
}
