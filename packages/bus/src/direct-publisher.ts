import { BatchBuilder, MAX_BATCH_BYTES, MAX_BATCH_EVENTS, oneEventBatch, type WireBatch } from './batch-builder.js';
import { EventIntake, type PublisherStats } from './event-intake.js';

export interface DirectPublisherOptions {
  nodeId: string;
  maxEvent: number;
  /**
   * Takes the events queued since the last call, in order, as wire batches (wire.ts), which the
   * core routes as it routes the batches of publish.sock. Called from the event loop, never from
   * inside a publish call. The batches' bytes are written into again after it returns: what is
   * kept of them must be copied.
   */
  deliver(batches: WireBatch[]): void;
  /** Events held between two deliveries; past this, new events are dropped and counted. */
  maxQueuedEvents?: number;
  /**
   * Whether what takes the events is behind, given the events queued for the next delivery
   * (which one poll of many sockets can make thousands; see EventIntake.busy).
   */
  busy?: (queued: number) => boolean;
}

/**
 * A publisher inside the core's process (receive.in_core): events go to the core's routing by a
 * function call, once per turn of the event loop, with no ZeroMQ hop (in the receive benchmark,
 * encoding and sending batches was half of `logyard receive`'s CPU and receiving them a fifth of
 * the core's). Checks, drops and their notices are the Publisher's.
 */
export class DirectPublisher extends EventIntake {
  private readonly deliver: DirectPublisherOptions['deliver'];
  private readonly maxQueued: number;
  private scheduled = false;
  private readonly busyNow: (queued: number) => boolean;

  constructor(options: DirectPublisherOptions) {
    // Batches of the Publisher's size; their buffers are recycled after each delivery. Indexed:
    // the core routes them without reading them for their lines (WireBatch.lines).
    super(options.nodeId, options.maxEvent, new BatchBuilder(MAX_BATCH_EVENTS, MAX_BATCH_BYTES, false, { indexed: true }));
    this.deliver = options.deliver;
    this.maxQueued = options.maxQueuedEvents ?? 100_000;
    this.busyNow = options.busy ?? (() => false);
  }

  protected override busy(): boolean {
    return this.busyNow(this.batches.events);
  }

  stats(): PublisherStats {
    return { ...this.stats_, queued: this.batches.events, queuedBytes: this.batches.bytes, dropped: { ...this.stats_.dropped } };
  }

  /** Hands over what is queued, then takes no more. Safe to call twice. */
  close(): Promise<void> {
    if (!this.closed) this.deliverQueued();
    this.closed = true;
    return Promise.resolve();
  }

  protected full(): boolean {
    return this.batches.events >= this.maxQueued;
  }

  protected queueFill(): number {
    return this.batches.events / this.maxQueued;
  }

  protected wake(): void {
    this.schedule();
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    // setImmediate: a synchronous burst (one socket read) goes to the core as one delivery.
    setImmediate(() => {
      if (!this.closed) this.deliverQueued();
    });
  }

  private deliverQueued(): void {
    this.scheduled = false;
    const batches: WireBatch[] = [];
    const notice = this.takeGapNotice();
    if (notice) batches.push(oneEventBatch(notice.key, notice.json));
    for (let b = this.batches.take(); b; b = this.batches.take()) batches.push(b);
    if (batches.length === 0) return;
    let count = 0;
    for (const b of batches) count += b.count;
    this.deliver(batches);
    this.stats_.sent += count;
    for (const b of batches) this.batches.recycle(b);
  }
}
