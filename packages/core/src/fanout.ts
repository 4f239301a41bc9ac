import { XPublisher } from 'zeromq';
import { WIRE_MAGIC, type WireRun } from '@logyard/bus';
import type { RunSink } from './frame-router.js';
import { PrefixIndex } from './prefix-index.js';

const MAX_PENDING_MESSAGES = 256;
const MAGIC = Buffer.from(WIRE_MAGIC);

/**
 * Hands events to local subscribers (e.g. the events client). Each subscription topic
 * "<prefix>\0" is an exact channel: we learn the prefixes from XPUB's subscription messages,
 * match keys against them ourselves and send one batch per channel. A subscriber that does
 * not keep up costs drops (counted), never a stalled core.
 */
export class SubscriberFanout {
  private readonly socket: XPublisher;
  private readonly index = new PrefixIndex<Channel>();
  private readonly channels = new Map<string, Channel>();
  /** Messages to send: topic, batch, and the number of its events. */
  private pending: Array<{ topic: string; body: Buffer; count: number }> = [];
  private sending = false;
  private closed = false;
  /** Channels that got lines of the batch under way. */
  private readonly grouped: Channel[] = [];
  sent = 0;
  dropped = 0;

  constructor(private readonly endpoint: string) {
    this.socket = new XPublisher({ noDrop: true, sendTimeout: 0, sendHighWaterMark: 1000, linger: 0 });
  }

  async bind(): Promise<void> {
    await this.socket.bind(this.endpoint);
    void this.readSubscriptions();
  }

  get active(): boolean {
    return this.channels.size > 0;
  }

  /** The channels whose prefix matches `key`: the core hands them the key's lines while it routes a batch. */
  channelsFor(key: string): readonly Channel[] {
    return this.index.match(key);
  }

  /** Changes whenever what channelsFor answers may have changed. */
  get routesVersion(): number {
    return this.index.version;
  }

  /** Called after a batch: queues one message per channel that got events. */
  endBatch(): void {
    if (this.grouped.length === 0) return;
    for (const channel of this.grouped) {
      const { parts, count } = channel;
      channel.parts = [MAGIC];
      channel.count = 0;
      if (this.pending.length >= MAX_PENDING_MESSAGES) {
        this.dropped += count;
        continue;
      }
      this.pending.push({ topic: channel.prefix + '\0', body: Buffer.concat(parts), count });
    }
    this.grouped.length = 0;
    void this.pump();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.socket.close();
  }

  private async pump(): Promise<void> {
    if (this.sending) return;
    this.sending = true;
    try {
      while (this.pending.length > 0 && !this.closed) {
        const { topic, body, count } = this.pending.shift()!;
        try {
          await this.socket.send([topic, body]);
          this.sent += count;
        } catch {
          this.dropped += count;
        }
      }
    } finally {
      this.sending = false;
    }
  }

  private async readSubscriptions(): Promise<void> {
    try {
      for await (const [frame] of this.socket) {
        if (frame.length < 2 || frame[frame.length - 1] !== 0) continue;
        const prefix = frame.toString('utf8', 1, frame.length - 1);
        const channel = this.channels.get(prefix);
        if (frame[0] === 1 && !channel) {
          const added = new Channel(prefix, this.grouped);
          this.channels.set(prefix, added);
          this.index.add(prefix, added);
        } else if (frame[0] === 0 && channel) {
          this.channels.delete(prefix);
          this.index.remove(prefix, channel);
        }
      }
    } catch {
      // the socket was closed
    }
  }
}

/** One subscription topic "<prefix>\0": the lines of the batch under way that match it. */
class Channel implements RunSink {
  /** Views of the batch, copied into one message at its end. */
  parts: Buffer[] = [MAGIC];
  count = 0;

  constructor(
    readonly prefix: string,
    private readonly grouped: Channel[],
  ) {}

  pushRun(run: WireRun): void {
    if (this.count === 0) this.grouped.push(this);
    // The run's lines are "key json\n" as a subscriber reads them: they go as they are.
    this.parts.push(run.frame.subarray(run.start, run.end));
    this.count += run.count;
  }
}
