import type { Command } from 'commander';
import { Core } from '@logyard/core';
import { checkConfig, type ConfigError, type LogyardConfig } from '@logyard/config';
import { configOf, globalFlags } from '../context.js';
import { asConfigProblems, checkEnvironment } from '../config-environment.js';
import { Supervisor } from '../supervisor.js';
import { clientLogger, type ClientLog } from './clients.js';
import { InCoreReceive } from '../in-core-receive.js';

/** SIGTERM to exit: the clients get 2.5 s (then SIGKILL); the whole stop stays under 5 s. */
const STOP_DEADLINE_MS = 4_500;

export function registerCoreCommands(program: Command): void {
  program
    .command('core')
    .description('run the core alone until SIGINT/SIGTERM; SIGHUP re-reads the config')
    .action(async (_opts: unknown, cmd: Command) => runNode(cmd, false));
  program
    .command('start')
    .description('run this node: the core plus the clients enabled in the config (clients:), until SIGINT/SIGTERM; SIGHUP re-reads the config')
    .action(async (_opts: unknown, cmd: Command) => runNode(cmd, true));
}

async function runNode(cmd: Command, withClients: boolean): Promise<void> {
  const log = clientLogger(withClients ? 'start' : 'core');
  // From the first moment: SIGHUP's default would end the process.
  let reloading: Promise<void> = Promise.resolve();
  let running: { core: Core; supervisor: Supervisor | null; receive: InCoreReceive | null } | null = null;
  const onHangup = (): void => {
    if (!running) return log('WARN', 'SIGHUP before the node was up: ignored');
    const node = running;
    reloading = reloading.then(() => reload(cmd, node, log));
  };
  process.on('SIGHUP', onHangup);

  const config = configOf(cmd);
  const core = await Core.start({ config });
  let receive: InCoreReceive | null = null;
  if (config.receive.inCore) {
    try {
      receive = await InCoreReceive.start(core, config);
    } catch (err) {
      await core.close();
      throw err;
    }
  }
  const supervisor = withClients ? new Supervisor(config) : null;
  supervisor?.start();
  running = { core, supervisor, receive };
  await new Promise<void>((resolve) => {
    const stop = (): void => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      resolve();
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
  running = null;
  const deadline = Date.now() + STOP_DEADLINE_MS;
  await reloading;
  await supervisor?.stop();
  await receive?.close();
  const closed = await Promise.race([
    core.close().then(() => true),
    new Promise<boolean>((r) => setTimeout(() => r(false), Math.max(0, deadline - Date.now())).unref()),
  ]);
  process.off('SIGHUP', onHangup);
  if (!closed) log('WARN', 'the core did not finish closing in time; exiting');
  if (withClients) process.exit(0);
}

/**
 * SIGHUP: reads the config again as `config check` would; a config with problems changes
 * nothing (each problem is logged), a good one goes to the core and the clients.
 */
async function reload(cmd: Command, node: { core: Core; supervisor: Supervisor | null; receive: InCoreReceive | null }, log: ClientLog): Promise<void> {
  const { core, supervisor, receive } = node;
  const checked = checkConfig(globalFlags(cmd));
  const problems: ConfigError[] = [...checked.problems];
  if (problems.length === 0) problems.push(...asConfigProblems(checked, await checkEnvironment(checked.config, null)));
  if (problems.length > 0) {
    for (const p of problems) log('ERROR', `config not reloaded, the running one stays: ${p.message}`);
    return;
  }
  const config: LogyardConfig = checked.config;
  const kept = await core.reload(config);
  for (const key of kept) log('WARN', `config reload: ${key} changed; it takes effect at the next start`);
  await supervisor?.reload(config);
  receive?.reload(config);
  log('INFO', `config reloaded${checked.shownFile ? ` from ${checked.shownFile}` : ''}`);
}
