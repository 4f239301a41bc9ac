/*
 * The core's side of sequenced delivery (see wire.ts): which events of each publisher it has, so
 * that a batch sent again after a reconnect is skipped and events lost on the way are counted.
 */

/**
 * The core's memory of each publisher: how many of its events it has. Bounded (least recently
 * heard-from publishers are forgotten first); a forgotten or unknown publisher is taken as it comes.
 */
export class PublisherLedger {
  private readonly next = new Map<string, number>();

  constructor(private readonly maxPublishers = 65_536) {}

  get size(): number {
    return this.next.size;
  }

  /**
   * What to do with a batch: `take` false for a batch the core already has (sent again after a
   * reconnect); `lost` the events the publisher sent before it that never arrived.
   */
  batch(publisher: string, seq: number, count: number): { take: boolean; lost: number; next: number } {
    const known = this.next.get(publisher);
    if (known !== undefined && seq + count <= known && count > 0) return { take: false, lost: 0, next: known };
    const lost = known !== undefined && seq > known ? seq - known : 0;
    const next = Math.max(known ?? 0, seq + count);
    // Delete then set: a Map iterates in insertion order, so the first key is the least recent.
    this.next.delete(publisher);
    this.next.set(publisher, next);
    if (this.next.size > this.maxPublishers) this.next.delete(this.next.keys().next().value as string);
    return { take: true, lost, next };
  }

  /** A publisher says goodbye after `seq` events; returns those of them that never arrived. */
  end(publisher: string, seq: number): { lost: number; next: number } {
    const known = this.next.get(publisher);
    this.next.delete(publisher);
    if (known === undefined) return { lost: 0, next: seq };
    return { lost: Math.max(0, seq - known), next: Math.max(known, seq) };
  }
}
