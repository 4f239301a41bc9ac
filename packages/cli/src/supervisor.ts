import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { ClientName, LogyardConfig } from '@logyard/config';
import { EXIT_USAGE } from './errors.js';
import { clientLogger } from './commands/clients.js';

/** Restart delays of a crashed client: doubling from the first to the last; reset after a good run. */
const FIRST_RESTART_MS = 500;
const MAX_RESTART_MS = 30_000;
const GOOD_RUN_MS = 60_000;
/** SIGTERM to exit: clients get this long, then SIGKILL. */
const CLIENT_STOP_MS = 2_500;

const BIN = fileURLToPath(new URL('../bin/logyard.js', import.meta.url));

interface Supervised {
  name: ClientName;
  child: ChildProcess | null;
  startedAt: number;
  delayMs: number;
  timer: NodeJS.Timeout | null;
  restarts: number;
  /** Being stopped on purpose (reload): its exit is not a crash. */
  stopping: boolean;
}

/** Runs the configured clients as child processes and restarts one that dies, with backoff. */
export class Supervisor {
  private readonly clients: Supervised[] = [];
  private stopping = false;
  private readonly log = clientLogger('start');

  /** receive.in_core as the node started: the core runs the receivers then, not a `receive` client (it changes at a restart only). */
  private readonly receiveInCore: boolean;

  constructor(private config: LogyardConfig) {
    this.receiveInCore = config.receive.inCore;
  }

  start(): void {
    for (const name of this.wanted(this.config)) this.add(name);
  }

  /** The clients that run as child processes. */
  private wanted(config: LogyardConfig): ClientName[] {
    return config.clients.filter((name) => !(name === 'receive' && this.receiveInCore));
  }

  /**
   * Takes a new config (SIGHUP): clients no longer listed stop, new ones start, and those whose
   * settings changed restart (systail and apptail go on from their saved positions).
   */
  async reload(config: LogyardConfig): Promise<void> {
    const before = this.config;
    this.config = config;
    const changes: Promise<void>[] = [];
    for (const c of [...this.clients]) {
      if (!this.wanted(config).includes(c.name)) {
        this.clients.splice(this.clients.indexOf(c), 1);
        this.log('INFO', `client ${c.name} is no longer in clients: stopping it`);
        changes.push(this.stopClient(c));
      } else if (settingsOf(before, c.name) !== settingsOf(config, c.name)) {
        this.log('INFO', `client ${c.name}: its settings changed; restarting it`);
        changes.push(this.stopClient(c).then(() => {
          c.delayMs = FIRST_RESTART_MS;
          if (!this.stopping) this.spawn(c);
        }));
      }
    }
    await Promise.all(changes);
    for (const name of this.wanted(config)) if (!this.clients.some((c) => c.name === name)) this.add(name);
  }

  private add(name: ClientName): void {
    const c: Supervised = { name, child: null, startedAt: 0, delayMs: FIRST_RESTART_MS, timer: null, restarts: 0, stopping: false };
    this.clients.push(c);
    this.spawn(c);
  }

  private spawn(c: Supervised): void {
    c.stopping = false;
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
      if (this.stopping || c.stopping) return;
      // Exit 2 is bad configuration or usage (docs/cli.md): the same client would fail the
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
    await Promise.all(this.clients.map((c) => this.stopClient(c)));
  }

  private async stopClient(c: Supervised): Promise<void> {
    c.stopping = true;
    if (c.timer) clearTimeout(c.timer);
    c.timer = null;
    const child = c.child;
    if (child && child.exitCode === null && child.signalCode === null) {
      await new Promise<void>((resolve) => {
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
    }
    c.stopping = false;
  }
}

/** What a client reads of the config: its own section (and the file it is told to read). */
function settingsOf(config: LogyardConfig, name: ClientName): string {
  return JSON.stringify([config.configFile, config[name]]);
}
