import { Command, CommanderError } from 'commander';
import { VERSION } from '@logyard/core';
import { registerBufferCommands } from './commands/buffer.js';
import { registerClientCommands } from './commands/clients.js';
import { registerCompletionCommands } from './commands/completion.js';
import { registerConfigCommands } from './commands/config.js';
import { registerCoreCommands } from './commands/core.js';
import { registerDrainCommands } from './commands/drain.js';
import { registerFormatCommands } from './commands/format.js';
import { registerPublishCommand } from './commands/publish.js';
import { registerRecentCommand } from './commands/recent.js';
import { registerStatusCommand } from './commands/status.js';
import { registerTailCommand } from './commands/tail.js';
import { registerStreamsCommand } from './commands/streams.js';
import { registerTopCommand } from './commands/top.js';
import { registerTenantCommands } from './commands/tenant.js';
import { describeFailure } from './context.js';
import { EXIT_USAGE } from './errors.js';

export function buildProgram(): Command {
  const program = new Command('logyard')
    .description('Logyard: a brokerless pub/sub log bus for clusters')
    .version(VERSION, '--version')
    .option('-c, --config <file>', 'config file (env LOGYARD_CONFIG; default /etc/logyard/logyard.yaml when it exists)')
    .option('--store <uri>', 'file://DIR or etcd://HOST:PORT (env LOGYARD_STORE)')
    .option('--run-dir <dir>', "the core's sockets (env LOGYARD_RUN_DIR)")
    .option('--state-dir <dir>', 'embedded store, buffers, positions (env LOGYARD_STATE_DIR)')
    .option('--node-id <id>', 'this node\'s id (env LOGYARD_NODE_ID)')
    .option('--status <addr>', 'status HTTP address host:port or off (env LOGYARD_STATUS)')
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();
  registerCoreCommands(program);
  registerBufferCommands(program);
  registerClientCommands(program);
  registerConfigCommands(program);
  registerDrainCommands(program);
  registerFormatCommands(program);
  registerPublishCommand(program);
  registerRecentCommand(program);
  registerStatusCommand(program);
  registerTailCommand(program);
  registerStreamsCommand(program);
  registerTopCommand(program);
  registerTenantCommands(program);
  registerCompletionCommands(program);
  for (const sub of allCommands(program)) sub.exitOverride();
  return program;
}

function allCommands(cmd: Command): Command[] {
  return cmd.commands.flatMap((c) => [c, ...allCommands(c)]);
}

export async function main(argv: string[]): Promise<void> {
  endQuietlyWhenOutputCloses();
  try {
    await buildProgram().parseAsync(argv);
  } catch (err) {
    if (err instanceof CommanderError) {
      // Commander already printed the message; help and --version are successes, the rest is bad usage.
      const ok = err.code === 'commander.helpDisplayed' || err.code === 'commander.version';
      process.exit(ok ? 0 : EXIT_USAGE);
    }
    const { code, message } = describeFailure(err);
    // A config may have several problems: one line each, every one prefixed.
    process.stderr.write(message.split('\n').map((line) => `logyard: ${line}\n`).join(''));
    if (process.env.LOGYARD_DEBUG) process.stderr.write(`${(err as Error)?.stack ?? ''}\n`);
    process.exit(code);
  }
}

/**
 * `logyard status | head -1`, a closed pipe, a terminal gone away: the reader of the output has
 * gone, so there is nobody to tell; end at once, successfully, as `ls | head -1` does, never with
 * a stack trace. A log reader gone (`logyard core 2>&1 | head -1`) ends nothing: the core and the
 * clients run on without their log, and a failing command keeps its exit code.
 */
function endQuietlyWhenOutputCloses(): void {
  const gone = new Set(['EPIPE', 'EIO', 'ECONNRESET', 'ERR_STREAM_DESTROYED']);
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code && gone.has(err.code)) process.exit(0);
    throw err;
  });
  process.stderr.on('error', (err: NodeJS.ErrnoException) => {
    if (!(err.code && gone.has(err.code))) throw err;
  });
}
