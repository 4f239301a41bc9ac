import type { Command } from 'commander';
import { ConfigError, loadConfig, type GlobalOptions, type LogyardConfig } from '@logyard/config';
import { InvalidNameError, openStore, StoreError, type Store } from '@logyard/store';
import { DrainUriError, DrainError } from '@logyard/drains';
import { CoreAlreadyRunningError, CoreError } from '@logyard/core';
import { CliError, EXIT_RUNTIME, EXIT_USAGE } from './errors.js';

/** The resolved configuration for a command, from its global flags (flag > env > file > default). */
export function configOf(command: Command): LogyardConfig {
  return loadConfig(globalFlags(command));
}

/** The global flags of a command (docs/cli.md), as the config package takes them. */
export function globalFlags(command: Command): GlobalOptions {
  const o = command.optsWithGlobals() as GlobalOptions;
  return { config: o.config, store: o.store, runDir: o.runDir, stateDir: o.stateDir, nodeId: o.nodeId, status: o.status };
}

export async function withStore<T>(config: LogyardConfig, use: (store: Store) => Promise<T>): Promise<T> {
  const store = await openStore(config.store);
  try {
    return await use(store);
  } finally {
    await store.close();
  }
}

/** Maps any error to the exit code and the one-line message of docs/cli.md. */
export function describeFailure(err: unknown): { code: number; message: string } {
  if (err instanceof CliError) return { code: err.exitCode, message: err.message };
  if (err instanceof ConfigError || err instanceof DrainUriError || err instanceof InvalidNameError) return { code: EXIT_USAGE, message: err.message };
  if (err instanceof CoreAlreadyRunningError || err instanceof CoreError || err instanceof StoreError || err instanceof DrainError) {
    return { code: EXIT_RUNTIME, message: err.message };
  }
  const e = err as NodeJS.ErrnoException;
  return { code: EXIT_RUNTIME, message: e?.message ?? String(err) };
}
