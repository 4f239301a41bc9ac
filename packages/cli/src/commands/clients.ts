import type { Command } from 'commander';
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { loadConfig, type LogyardConfig } from '@logyard/config';
import { clientStatsDir, clientStatsFile } from '@logyard/core';
import type { EventRules } from '@logyard/events';
import type { Receiver, ReceiverOptions } from '@logyard/receive';
import { configOf } from '../context.js';
import { runtimeError, usageError } from '../errors.js';

export type ClientLog = (level: 'INFO' | 'WARN' | 'ERROR', message: string) => void;

interface RunningClient {
  stats(): object;
  close(): Promise<void>;
  /** Resolves when the client cannot go on (its source is gone): it is closed and the command exits 1. */
  readonly failed?: Promise<Error>;
}

export function clientLogger(name: string): ClientLog {
  return (level, message) => process.stderr.write(`${new Date().toISOString()} ${level} ${name}: ${message}\n`);
}

/**
 * Each client's package is loaded by its own command only (`import()` in the action): a core, or a
 * `drain add`, does not pay the memory and start-up time of five clients it does not run.
 */
export function registerClientCommands(program: Command): void {
  program
    .command('systail')
    .description('run systail alone: publish lines of the files in config systail.files as systail.<name>.<node_id>')
    .action(async (_opts: unknown, cmd: Command) =>
      runClient('systail', cmd, async (config, log) => {
        const { Systail } = await import('@logyard/systail');
        return Systail.start({ config, log });
      }),
    );
  program
    .command('apptail')
    .description("run apptail alone: publish application instances' logs (config apptail.patterns) as apptail.<app_id>")
    .action(async (_opts: unknown, cmd: Command) =>
      runClient('apptail', cmd, async (config, log) => {
        const { Apptail } = await import('@logyard/apptail');
        return Apptail.start({ config, log });
      }),
    );
  program
    .command('events')
    .description('run events alone: turn systail lines matching config events.rules into event.<type>')
    .option('--rules <file>', 'also use the rules of this file (same shape as the config, e.g. configs/events-rules.yaml); repeatable', collect, [])
    .action(async (opts: { rules: string[] }, cmd: Command) =>
      runClient('events', cmd, async (config, log) => {
        const { Events, mergeRules } = await import('@logyard/events');
        const rules = mergeRules(...opts.rules.map(readRulesFile), config.events.rules);
        const events = await Events.start({ config, rules });
        log('INFO', `${events.rules} rules`);
        return events;
      }),
    );
  program
    .command('receive')
    .description('run the receivers alone: syslog (RFC 5424/3164) as syslog.<app-name or tag>, JSON as <json_key_prefix>.<name>, GELF as gelf.<container name or host>')
    .option('--syslog <uri>', 'a syslog listener: udp://HOST:PORT, tcp://HOST:PORT (newline or octet-counted framing), unix:///PATH or unixgram:///PATH; repeatable, replaces config receive.syslog', collect, undefined)
    .option('--json <uri>', 'a JSON listener (one object per datagram or per line), same URIs; repeatable, replaces config receive.json', collect, undefined)
    .option('--gelf <uri>', "a GELF listener (Docker's gelf log driver): udp://HOST:PORT (plain, gzip, zlib, chunked) or tcp://HOST:PORT (NUL-ended); repeatable, replaces config receive.gelf", collect, undefined)
    .addHelpText(
      'after',
      [
        '',
        'Port 0 takes a free port; every listener is logged with its address at start.',
        'Limits and counters: config receive.rate and receive.burst (per key); malformed input and',
        'drops are counted in <run_dir>/clients/receive.json, shown by `logyard status`.',
      ].join('\n'),
    )
    .action(async (opts: { syslog?: string[]; json?: string[]; gelf?: string[] }, cmd: Command) =>
      runClient('receive', cmd, (config, log) =>
        startReceiver({
          config,
          log,
          ...(opts.syslog ? { syslog: opts.syslog } : {}),
          ...(opts.json ? { json: opts.json } : {}),
          ...(opts.gelf ? { gelf: opts.gelf } : {}),
        }),
      ),
    );
  program
    .command('journal')
    .description('run the journal client alone: publish systemd journal entries as journal.<unit, container or identifier> (config journal)')
    .addHelpText(
      'after',
      [
        '',
        "Reads the journal with journalctl (config journal.directory, else the system's journal), from",
        'the cursor kept in <state_dir>/journal.cursor.json, or from the end at the first start.',
        'Config journal.units (globs) picks units; journal.rate and journal.burst limit each unit or',
        'container. Exit 2 when journalctl is missing or the journal cannot be read.',
      ].join('\n'),
    )
    .action(async (_opts: unknown, cmd: Command) =>
      runClient('journal', cmd, async (config, log) => {
        const { Journal, JournalUnavailableError } = await import('@logyard/journal');
        try {
          // A knob for benchmarks and tests: read an existing journal from its start.
          return await Journal.start({ config, log, fromStart: process.env.LOGYARD_JOURNAL_FROM_START === '1' });
        } catch (err) {
          if (err instanceof JournalUnavailableError) throw usageError(err.message);
          throw err;
        }
      }),
    );
}

/** The receivers, by `logyard receive` or inside the core; a bad listener is a usage error (exit 2). */
export async function startReceiver(options: ReceiverOptions): Promise<Receiver> {
  const { ListenError, ListenUriError, NoListenersError, Receiver } = await import('@logyard/receive');
  try {
    return await Receiver.start(options);
  } catch (err) {
    if (err instanceof ListenUriError || err instanceof NoListenersError) throw usageError(err.message);
    if (err instanceof ListenError) throw err.usage ? usageError(err.message) : runtimeError(err.message, err);
    throw err;
  }
}

function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

/** The `events.rules` of a rules file; it is read and checked like a config file. */
function readRulesFile(file: string): EventRules {
  return loadConfig({ config: file }, {}, '/nonexistent').events.rules;
}

async function runClient(name: string, cmd: Command, start: (config: LogyardConfig, log: ClientLog) => Promise<RunningClient>): Promise<void> {
  const config = configOf(cmd);
  const log = clientLogger(name);
  const client = await start(config, log);
  const statsFile = writeClientStats(config, name, () => client.stats());
  log('INFO', `started (node ${config.nodeId}, core in ${config.runDir})`);
  let failure: Error | null = null;
  await new Promise<void>((resolve) => {
    const stop = (): void => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      clearInterval(parentWatch);
      resolve();
    };
    void client.failed?.then((err) => {
      failure = err;
      stop();
    });
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
    // Run by `logyard start`: leave when it is gone, even if it could not stop us (kill -9).
    const parent = Number(process.env.LOGYARD_SUPERVISOR_PID);
    const parentWatch = setInterval(() => {
      if (parent && process.ppid !== parent) stop();
    }, 1000);
  });
  await client.close();
  statsFile.stop();
  if (failure) throw runtimeError((failure as Error).message, failure);
  log('INFO', 'stopped');
}

/**
 * Writes a client's counters to <run_dir>/clients/<name>.json now and every second, where the
 * core's /status and /metrics read them; stop() writes them a last time.
 */
export function writeClientStats(config: LogyardConfig, name: string, stats: () => object): { stop(): void } {
  const startedAt = Date.now() / 1000;
  const statsFile = clientStatsFile(config.runDir, name);
  const write = (): void => {
    try {
      mkdirSync(clientStatsDir(config.runDir), { recursive: true, mode: 0o700 });
      writeFileSync(`${statsFile}.tmp`, JSON.stringify({ client: name, pid: process.pid, started: startedAt, ...stats() }) + '\n');
      renameSync(`${statsFile}.tmp`, statsFile);
    } catch {
      // The counters are a convenience; the client runs on without them.
    }
  };
  write();
  const timer = setInterval(write, 1000);
  return {
    stop: () => {
      clearInterval(timer);
      write();
    },
  };
}
