import { nowUnix } from '@logyard/bus';

/** Events dropped in a row because the buffer was full. */
export interface Gap {
  count: number;
  /** Unix time (seconds) of the first of those drops. */
  since: number;
}

export interface EventBatch {
  keys: string[];
  jsons: string[];
  /** Set when events were dropped before these: the drain announces it ahead of them. */
  gap?: Gap;
}

/** Slots allocated up front; the ring grows to `capacity` only when that many events wait. */
const INITIAL_SLOTS = 1024;

/**
 * A drain's bounded FIFO of (key, event JSON). When full, a push drops the oldest event and
 * records the gap. Storage is two parallel arrays used as a ring, so pushing allocates nothing
 * once the ring has grown.
 */
export class EventBuffer {
  readonly capacity: number;
  private keys: string[];
  private jsons: string[];
  /** Ring index of the oldest event. */
  private head = 0;
  private size = 0;
  private gapCount = 0;
  private gapSince = 0;
  private droppedTotal = 0;

  constructor(capacity: number) {
    if (!Number.isSafeInteger(capacity) || capacity < 1) throw new RangeError(`buffer capacity must be a positive integer, got ${capacity}`);
    this.capacity = capacity;
    const slots = Math.min(capacity, INITIAL_SLOTS);
    this.keys = emptySlots(slots);
    this.jsons = emptySlots(slots);
  }

  /** Events waiting. */
  get length(): number {
    return this.size;
  }

  /** Events dropped because the buffer was full, since it was created. */
  get dropped(): number {
    return this.droppedTotal;
  }

  push(key: string, json: string): void {
    const slots = this.keys.length;
    if (this.size === this.capacity) {
      // Full (so the ring has `capacity` slots): the new event takes the oldest one's slot.
      const at = this.head;
      this.keys[at] = key;
      this.jsons[at] = json;
      this.head = at + 1 === slots ? 0 : at + 1;
      this.recordDrops(1);
      return;
    }
    if (this.size === slots) this.grow(this.size + 1);
    let at = this.head + this.size;
    if (at >= this.keys.length) at -= this.keys.length;
    this.keys[at] = key;
    this.jsons[at] = json;
    this.size++;
  }

  /**
   * Removes the oldest events: at most `maxEvents`, and no more than `maxBytes` of JSON
   * (counted in UTF-16 units) unless a single event is larger. Carries the pending gap.
   */
  take(maxEvents: number, maxBytes: number): EventBatch {
    const keys: string[] = [];
    const jsons: string[] = [];
    const slots = this.keys.length;
    let bytes = 0;
    while (this.size > 0 && keys.length < maxEvents) {
      const at = this.head;
      const json = this.jsons[at];
      if (keys.length > 0 && bytes + json.length > maxBytes) break;
      bytes += json.length;
      keys.push(this.keys[at]);
      jsons.push(json);
      // Let go of the strings so a drained buffer holds no memory for them.
      this.keys[at] = '';
      this.jsons[at] = '';
      this.head = at + 1 === slots ? 0 : at + 1;
      this.size--;
    }
    const batch: EventBatch = { keys, jsons };
    if (this.gapCount > 0) {
      batch.gap = { count: this.gapCount, since: this.gapSince };
      this.gapCount = 0;
    }
    return batch;
  }

  /**
   * Puts a batch that could not be sent back in front, with its gap. The batch's events are
   * the oldest, so those that no longer fit are dropped (and counted) first.
   */
  unshift(batch: EventBatch): void {
    if (batch.gap) this.mergeGap(batch.gap.count, batch.gap.since);
    const returned = batch.keys.length;
    const fitting = Math.min(returned, this.capacity - this.size);
    if (fitting < returned) this.recordDrops(returned - fitting);
    if (fitting === 0) return;
    if (this.size + fitting > this.keys.length) this.grow(this.size + fitting);
    const slots = this.keys.length;
    for (let i = returned - 1; i >= returned - fitting; i--) {
      this.head = this.head === 0 ? slots - 1 : this.head - 1;
      this.keys[this.head] = batch.keys[i];
      this.jsons[this.head] = batch.jsons[i];
    }
    this.size += fitting;
  }

  private recordDrops(count: number): void {
    this.droppedTotal += count;
    this.mergeGap(count, this.gapCount === 0 ? nowUnix() : this.gapSince);
  }

  private mergeGap(count: number, since: number): void {
    this.gapSince = this.gapCount === 0 ? since : Math.min(this.gapSince, since);
    this.gapCount += count;
  }

  /** Re-lays the ring in order into at least `minSlots` slots (doubling, at most `capacity`). */
  private grow(minSlots: number): void {
    const slots = Math.min(this.capacity, Math.max(minSlots, this.keys.length * 2));
    const keys = emptySlots(slots);
    const jsons = emptySlots(slots);
    for (let i = 0, at = this.head; i < this.size; i++) {
      keys[i] = this.keys[at];
      jsons[i] = this.jsons[at];
      at = at + 1 === this.keys.length ? 0 : at + 1;
    }
    this.keys = keys;
    this.jsons = jsons;
    this.head = 0;
  }
}

/** A packed array of empty strings: writes into it never turn it holey or sparse. */
function emptySlots(count: number): string[] {
  const slots: string[] = [];
  for (let i = 0; i < count; i++) slots.push('');
  return slots;
}
