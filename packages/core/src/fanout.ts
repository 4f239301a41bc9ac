import { XPublisher } from 'zeromq';
import { WIRE_MAGIC, type WireRun } from '@logyard/bus';
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
  private readonly index = new PrefixIndex<string>();
  private readonly channels = new Set<string>();
  /** Messages to send: topic, batch, and the number of its events. */
  private pending: Array<{ topic: string; body: Buffer; count: number }> = [];
  private sending = false;
  private closed = false;
  /** Per channel, the lines of the batch under way that match it (views of the batch, copied at its end) and their count. */
  private grouped = new Map<string, { parts: Buffer[]; count: number }>();
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

  /** Called per run of equal keys while a batch is routed. Returns how many subscriptions it matched. */
  offerRun(run: WireRun): number {
    const prefixes = this.index.match(run.key);
    for (let i = 0; i < prefixes.length; i++) {
      let group = this.grouped.get(prefixes[i]);
      if (!group) this.grouped.set(prefixes[i], (group = { parts: [MAGIC], count: 0 }));
      // The run's lines are "key json\n" as a subscriber reads them: they go as they are.
      group.parts.push(run.frame.subarray(run.start, run.end));
      group.count += run.count;
    }
    return prefixes.length;
  }

  /** Called after a batch: queues one message per channel that got events. */
  endBatch(): void {
    if (this.grouped.size === 0) return;
    for (const [prefix, { parts, count }] of this.grouped) {
      if (this.pending.length >= MAX_PENDING_MESSAGES) {
        this.dropped += count;
        continue;
      }
      this.pending.push({ topic: prefix + '\0', body: Buffer.concat(parts), count });
    }
    this.grouped = new Map();
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
        if (frame[0] === 1 && !this.channels.has(prefix)) {
          this.channels.add(prefix);
          this.index.add(prefix, prefix);
        } else if (frame[0] === 0 && this.channels.delete(prefix)) {
          this.index.remove(prefix, prefix);
        }
      }
    } catch {
      // the socket was closed
    }
  }
}
