import type { LogyardConfig } from '@logyard/config';
import type { Core } from '@logyard/core';
import type { Receiver } from '@logyard/receive';
import { clientLogger, startReceiver, writeClientStats } from './commands/clients.js';

/**
 * The receivers run inside the core's process (config receive.in_core, docs/receive.md): their
 * events reach the core's routing by a function call instead of a Publisher, the wire format
 * and ZeroMQ. Counters go to <run_dir>/clients/receive.json as those of `logyard receive` do.
 */
export class InCoreReceive {
  private readonly log = clientLogger('receive');
  private constructor(
    private readonly config: LogyardConfig,
    private readonly receiver: Receiver,
    private readonly stats: { stop(): void },
  ) {}

  /** Starts the receivers of `config.receive` in this process; rejects like `logyard receive` would (exit 2 for bad listeners). */
  static async start(core: Core, config: LogyardConfig): Promise<InCoreReceive> {
    const receiver = await startReceiver({ config, log: clientLogger('receive'), publisher: core.directPublisher() });
    return new InCoreReceive(config, receiver, writeClientStats(config, 'receive', () => receiver.stats()));
  }

  /**
   * SIGHUP: the receivers keep their listeners (a restart in place could lose the port to another
   * process and leave none); changed receive settings are logged to take effect at the next start.
   */
  reload(config: LogyardConfig): void {
    if (JSON.stringify([config.receive, config.maxEvent]) === JSON.stringify([this.config.receive, this.config.maxEvent])) return;
    this.log('WARN', 'config reload: receive changed; the receivers run in the core (receive.in_core), so it takes effect at the next start');
  }

  /** Stops listening and hands what is queued to the core. Safe to call twice. */
  async close(): Promise<void> {
    await this.receiver.close();
    this.stats.stop();
  }
}
