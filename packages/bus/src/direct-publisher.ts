import { EventIntake, type PublisherStats } from './event-intake.js';

export interface DirectPublisherOptions {
  nodeId: string;
  maxEvent: number;
  /**
   * Takes the events queued since the last call, in order (`keys[i]` with `jsons[i]`): the core
   * routes them as one batch. Called from the event loop, never from inside a publish call.
   */
  deliver(keys: string[], jsons: string[]): void;
  /** Events held between two deliveries; past this, new events are dropped and counted. */
  maxQueuedEvents?: number;
  /**
   * Whether what takes the events is behind, given the events queued for the next delivery
   * (which one poll of many sockets can make thousands; see EventPublisher.busy).
   */
  busy?: (queued: number) => boolean;
}

/**
 * A publisher inside the core's process (receive.in_core): events go to the core's routing by a
 * function call, once per turn of the event loop, with no wire format and no ZeroMQ hop (in the
 * receive benchmark, encoding and sending batches was half of `logyard receive`'s CPU and
 * receiving them a fifth of the core's). Checks, drops and their notices are the Publisher's.
 */
export class DirectPublisher extends EventIntake {
  private readonly deliver: DirectPublisherOptions['deliver'];
  private readonly maxQueued: number;
  private keys: string[] = [];
  private jsons: string[] = [];
  private bytes = 0;
  private scheduled = false;
  private readonly busyNow: (queued: number) => boolean;

  constructor(options: DirectPublisherOptions) {
    super(options.nodeId, options.maxEvent);
    this.deliver = options.deliver;
    this.maxQueued = options.maxQueuedEvents ?? 100_000;
    this.busyNow = options.busy ?? (() => false);
  }

  busy(): boolean {
    return this.busyNow(this.keys.length);
  }

  stats(): PublisherStats {
    return { ...this.stats_, queued: this.keys.length, queuedBytes: this.bytes, dropped: { ...this.stats_.dropped } };
  }

  /** Hands over what is queued, then takes no more. Safe to call twice. */
  close(): Promise<void> {
    if (!this.closed) this.deliverQueued();
    this.closed = true;
    return Promise.resolve();
  }

  protected full(): boolean {
    return this.keys.length >= this.maxQueued;
  }

  protected enqueue(key: string, json: string): void {
    this.keys.push(key);
    this.jsons.push(json);
    this.bytes += json.length;
    if (this.scheduled) return;
    this.scheduled = true;
    // setImmediate: a synchronous burst (one socket read) goes to the core as one batch.
    setImmediate(() => {
      if (!this.closed) this.deliverQueued();
    });
  }

  private deliverQueued(): void {
    this.scheduled = false;
    const notice = this.takeGapNotice();
    if (notice) {
      this.keys.unshift(notice.key);
      this.jsons.unshift(notice.json);
    }
    if (this.keys.length === 0) return;
    const { keys, jsons } = this;
    this.keys = [];
    this.jsons = [];
    this.bytes = 0;
    this.deliver(keys, jsons);
    this.stats_.sent += keys.length;
  }
}
