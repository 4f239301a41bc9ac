import type { Command } from 'commander';
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Core } from '@logyard/core';
import type { ClientName, LogyardConfig } from '@logyard/config';
import { configOf } from '../context.js';
import { EXIT_USAGE } from '../errors.js';
import { clientLogger } from './clients.js';

/** Restart delays of a crashed client: doubling from the first to the last; reset after a good run. */
const FIRST_RESTART_MS = 500;
const MAX_RESTART_MS = 30_000;
const GOOD_RUN_MS = 60_000;
/** SIGTERM to exit: clients get this long, then SIGKILL; the whole stop stays under 5 s. */
const CLIENT_STOP_MS = 2_500;
const STOP_DEADLINE_MS = 4_500;

const BIN = fileURLToPath(new URL('../../bin/logyard.js', import.meta.url));

export function registerCoreCommands(program: Command): void {
  program
    .command('core')
    .description('run the core alone until SIGINT/SIGTERM')
    .action(async (_opts: unknown, cmd: Command) => runNode(cmd, false));
  program
    .command('start')
    .description('run this node: the core plus the clients enabled in the config (clients:), until SIGINT/SIGTERM')
    .action(async (_opts: unknown, cmd: Command) => runNode(cmd, true));
}

async function runNode(cmd: Command, withClients: boolean): Promise<void> {
  const config = configOf(cmd);
  const core = await Core.start({ config });
  const supervisor = withClients ? new Supervisor(config) : null;
  supervisor?.start();
  await new Promise<void>((resolve) => {
    const stop = (): void => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      resolve();
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
  const deadline = Date.now() + STOP_DEADLINE_MS;
  await supervisor?.stop();
  const closed = await Promise.race([
    core.close().then(() => true),
    new Promise<boolean>((r) => setTimeout(() => r(false), Math.max(0, deadline - Date.now())).unref()),
  ]);
  if (!closed) clientLogger('start')('WARN', 'the core did not finish closing in time; exiting');
  if (withClients) process.exit(0);
}

interface Supervised {
  name: ClientName;
  child: ChildProcess | null;
  startedAt: number;
  delayMs: number;
  timer: NodeJS.Timeout | null;
  restarts: number;
}

/** Runs the configured clients as child processes and restarts one that dies, with backoff. */
class Supervisor {
  private readonly clients: Supervised[] = [];
  private stopping = false;
  private readonly log = clientLogger('start');

  constructor(private readonly config: LogyardConfig) {}

  start(): void {
    for (const name of this.config.clients) {
      const c: Supervised = { name, child: null, startedAt: 0, delayMs: FIRST_RESTART_MS, timer: null, restarts: 0 };
      this.clients.push(c);
      this.spawn(c);
    }
  }

  private spawn(c: Supervised): void {
    const { config } = this;
    // The resolved settings go by environment (not argv, where a store password would show).
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      LOGYARD_CONFIG: config.configFile ?? '',
      LOGYARD_RUN_DIR: config.runDir,
      LOGYARD_STATE_DIR: config.stateDir,
      LOGYARD_NODE_ID: config.nodeId,
      LOGYARD_STORE: config.store,
      LOGYARD_SUPERVISOR_PID: String(process.pid),
    };
    const child = spawn(process.execPath, [BIN, c.name], { env, stdio: ['ignore', 'inherit', 'inherit'] });
    c.child = child;
    c.startedAt = Date.now();
    this.log('INFO', `client ${c.name} started (pid ${child.pid})`);
    child.on('error', (err) => this.log('ERROR', `client ${c.name}: ${err.message}`));
    child.on('exit', (code, signal) => {
      c.child = null;
      if (this.stopping) return;
      // Exit 2 is bad configuration or usage (SPEC section 6): the same client would fail the
      // same way again, so restarting it would only fill the log.
      if (code === EXIT_USAGE) {
        this.log('ERROR', `client ${c.name} exited with code ${code} (its configuration, see above); not restarting it: fix the config and run logyard start again`);
        return;
      }
      if (Date.now() - c.startedAt > GOOD_RUN_MS) c.delayMs = FIRST_RESTART_MS;
      const how = signal ? `was killed by ${signal}` : `exited with code ${code}`;
      c.restarts++;
      this.log('WARN', `client ${c.name} ${how}; restarting in ${(c.delayMs / 1000).toFixed(1)} s (restart ${c.restarts})`);
      c.timer = setTimeout(() => {
        c.timer = null;
        if (!this.stopping) this.spawn(c);
      }, c.delayMs);
      c.delayMs = Math.min(MAX_RESTART_MS, c.delayMs * 2);
    });
  }

  /** SIGTERM to every client, SIGKILL to those still there after CLIENT_STOP_MS. */
  async stop(): Promise<void> {
    this.stopping = true;
    const waits = this.clients.map((c) => {
      if (c.timer) clearTimeout(c.timer);
      const child = c.child;
      if (!child || child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
      return new Promise<void>((resolve) => {
        const kill = setTimeout(() => {
          this.log('WARN', `client ${c.name} did not stop in time; killing it`);
          child.kill('SIGKILL');
        }, CLIENT_STOP_MS);
        child.once('exit', () => {
          clearTimeout(kill);
          resolve();
        });
        child.kill('SIGTERM');
      });
    });
    await Promise.all(waits);
  }
}
