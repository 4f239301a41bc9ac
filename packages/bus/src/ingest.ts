import { Router } from 'zeromq';
import { BusError } from './errors.js';
import { ackFrame, parseIngestHeader, SEQUENCED_MAGIC, type MalformedReason } from './wire.js';
import { PublisherLedger } from './publisher-ledger.js';
import { FrameReleaser } from './frame-release.js';

const SEQUENCED_PREFIX = Buffer.from(SEQUENCED_MAGIC + ' ');

export interface BatchReceiverOptions {
  /** Batches ZeroMQ holds for us while we are busy; past it, publishers keep events in their own queues. */
  receiveHighWaterMark?: number;
  /** Publishers whose sequence the receiver remembers (see PublisherLedger). */
  maxPublishers?: number;
}

export type IngestDropReason = 'lost_in_transit';

/**
 * The core's end of publish.sock: takes sequenced batches from publishers (see wire.ts), hands
 * each batch to the one who decodes and routes it, confirms batches to their publisher when asked, skips batches sent
 * twice and counts events that went missing on the way.
 */
export class BatchReceiver {
  /** Events taken (as the batches' reader counted them). */
  eventsIn = 0;
  /** Counted by the batches' reader (decodeFrame), by reason; here so the core shows them with the rest. */
  readonly malformed: Record<MalformedReason, number> = { bad_batch: 0, bad_key: 0, bad_event: 0, too_long: 0 };
  readonly dropped: Record<IngestDropReason, number> = { lost_in_transit: 0 };
  private readonly socket: Router;
  private readonly ledger: PublisherLedger;
  private readonly frames = new FrameReleaser();
  private closed = false;

  constructor(options: BatchReceiverOptions = {}) {
    // Confirmations never wait: a publisher that went away is simply not answered (ROUTER drops
    // what it cannot route), and one that missed an answer gets the next, which covers it.
    this.socket = new Router({ receiveHighWaterMark: options.receiveHighWaterMark ?? 8, sendTimeout: 0, linger: 0 });
    this.ledger = new PublisherLedger(options.maxPublishers);
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
   * Receives until `close()`. Each batch ("LY1\n" and lines) goes to `onBatch` with whether its
   * header marked it known valid (wire.ts; an unsequenced batch never is), which decodes and
   * routes it (decodeFrame, or decodeWire/decodeBatch for runs or strings), counting malformed
   * lines in `malformed`, and returns the events it took; `afterBatch` runs after each batch (and
   * is awaited, so the caller can yield to its event loop); the batch is confirmed after it.
   */
  async run(onBatch: (batch: Buffer, knownValid: boolean, checked: boolean) => number, afterBatch: () => void | Promise<void>): Promise<void> {
    try {
      for await (const frames of this.socket) {
        // frames[0] is the ROUTER's routing id of the sending connection.
        const reply = this.take(frames, onBatch);
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
  private take(frames: Buffer[], onBatch: (batch: Buffer, knownValid: boolean, checked: boolean) => number): string | null {
    const header = frames.length === 2 || frames.length === 3 ? parseIngestHeader(frames[1]) : null;
    if (header === null && frames.length === 2 && !frames[1].subarray(0, 4).equals(SEQUENCED_PREFIX)) {
      // An unsequenced batch (a bare "LY1\n..." frame): taken, not confirmed.
      this.eventsIn += onBatch(frames[1], false, false);
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
    if (take) this.eventsIn += onBatch(frames[2], header.knownValid, header.checked);
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
