import { Router } from 'zeromq';
import { BusError } from './errors.js';
import { ackFrame, decodeWire, parseIngestHeader, SEQUENCED_MAGIC, type MalformedReason, type WireRun, type WireSink } from './wire.js';
import { PublisherLedger } from './publisher-ledger.js';
import { DEFAULT_MAX_EVENT } from './event.js';
import { FrameReleaser } from './frame-release.js';

const SEQUENCED_PREFIX = Buffer.from(SEQUENCED_MAGIC + ' ');

export interface BatchReceiverOptions {
  /** Batches ZeroMQ holds for us while we are busy; past it, publishers keep events in their own queues. */
  receiveHighWaterMark?: number;
  /** Publishers whose sequence the receiver remembers (see PublisherLedger). */
  maxPublishers?: number;
  /** Longer events are refused, counted as malformed `too_long` (the config's max_event; default 1 MiB). */
  maxEvent?: number;
}

export type IngestDropReason = 'lost_in_transit';

/**
 * The core's end of publish.sock: takes sequenced batches from publishers (see wire.ts), hands
 * their events to a sink, confirms batches to their publisher when asked, skips batches sent
 * twice and counts events that went missing on the way.
 */
export class BatchReceiver {
  /** Events handed to the sink. */
  eventsIn = 0;
  readonly malformed: Record<MalformedReason, number> = { bad_batch: 0, bad_key: 0, bad_event: 0, too_long: 0 };
  readonly dropped: Record<IngestDropReason, number> = { lost_in_transit: 0 };
  private readonly socket: Router;
  private readonly ledger: PublisherLedger;
  private readonly maxEvent: number;
  private readonly frames = new FrameReleaser();
  private closed = false;

  constructor(options: BatchReceiverOptions = {}) {
    // Confirmations never wait: a publisher that went away is simply not answered (ROUTER drops
    // what it cannot route), and one that missed an answer gets the next, which covers it.
    this.socket = new Router({ receiveHighWaterMark: options.receiveHighWaterMark ?? 8, sendTimeout: 0, linger: 0 });
    this.ledger = new PublisherLedger(options.maxPublishers);
    this.maxEvent = options.maxEvent ?? DEFAULT_MAX_EVENT;
  }

  /** Publishers currently remembered (for tests and status). */
  get publishers(): number {
    return this.ledger.size;
  }

  async bind(endpoint: string): Promise<void> {
    try {
      await this.socket.bind(endpoint);
    } catch (err) {
      throw new BusError(`cannot bind ${endpoint}: ${(err as Error).message}`, { cause: err });
    }
  }

  /**
   * Receives until `close()`. Each batch's events go to `onRun`, a run of equal keys at a time
   * (decodeWire; `forEachEvent` gives them one by one); `afterBatch` runs after each batch (and is
   * awaited, so the caller can yield to its event loop); the batch is confirmed after it.
   */
  async run(onRun: (run: WireRun) => void, afterBatch: () => void | Promise<void>): Promise<void> {
    const sink: WireSink = {
      run: onRun,
      malformed: (reason, count) => {
        this.malformed[reason] += count;
      },
    };
    try {
      for await (const frames of this.socket) {
        // frames[0] is the ROUTER's routing id of the sending connection.
        const reply = this.take(frames, sink);
        // Routed: the frames (and those before them) may go (see FrameReleaser).
        this.frames.received(frames[frames.length - 1].length);
        await afterBatch();
        if (reply !== null) await this.confirm(frames[0], reply);
      }
    } catch (err) {
      if (!this.closed) throw new BusError(`receiving batches stopped: ${(err as Error).message}`, { cause: err });
    }
  }

  /** Safe to call twice; `run` then returns. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.socket.close();
  }

  /** Decodes one message; returns the confirmation to send, if any. */
  private take(frames: Buffer[], sink: WireSink): string | null {
    const header = frames.length === 2 || frames.length === 3 ? parseIngestHeader(frames[1]) : null;
    if (header === null && frames.length === 2 && !frames[1].subarray(0, 4).equals(SEQUENCED_PREFIX)) {
      // An unsequenced batch (a bare "LY1\n..." frame): taken, not confirmed.
      this.eventsIn += decodeWire(frames[1], sink, this.maxEvent);
      return null;
    }
    if (header === null || (header.kind === 'batch') !== (frames.length === 3)) {
      this.malformed.bad_batch++;
      return null;
    }
    if (header.kind === 'end') {
      const { lost, next } = this.ledger.end(header.publisher, header.seq);
      this.dropped.lost_in_transit += lost;
      return ackFrame({ kind: 'end', next });
    }
    const { take, lost, next } = this.ledger.batch(header.publisher, header.seq, header.count);
    this.dropped.lost_in_transit += lost;
    if (take) this.eventsIn += decodeWire(frames[2], sink, this.maxEvent);
    return header.confirm ? ackFrame({ kind: 'batch', next }) : null;
  }

  private async confirm(routingId: Buffer, reply: string): Promise<void> {
    try {
      await this.socket.send([routingId, reply]);
    } catch {
      // Closed meanwhile, or the publisher is gone: it has nothing left to confirm then.
    }
  }
}
