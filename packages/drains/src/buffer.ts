import { nowUnix } from '@logyard/bus';
import { ownCopy } from './own-copy.js';

/** Events dropped for one reason, not yet told in-band. */
export interface Gap {
  /** The counter they are counted under (`buffer_full`, `core_stopped`, `uri_changed`, ...). */
  reason: string;
  count: number;
  /** Unix time (seconds) of the first of those drops. */
  since: number;
}

export interface EventBatch {
  keys: string[];
  jsons: string[];
  /** Set when events were dropped before these: the drain announces them ahead of them. */
  gaps?: Gap[];
}

/**
 * What a drain holds when it stops: the events waiting, oldest first, and the drops it has
 * counted but not told yet. Handed to the drain that replaces it, or counted as lost.
 */
export interface HeldEvents {
  keys: string[];
  jsons: string[];
  gaps: Gap[];
}

/** Drops not told yet, by reason, in the order they began; merging keeps the earliest `since`. */
export class UntoldGaps {
  private readonly gaps = new Map<string, Gap>();

  get size(): number {
    return this.gaps.size;
  }

  add(gap: Gap): void {
    const pending = this.gaps.get(gap.reason);
    if (pending) {
      pending.count += gap.count;
      pending.since = Math.min(pending.since, gap.since);
    } else {
      this.gaps.set(gap.reason, { ...gap });
    }
  }

  /** A drop happening now (the hot path of a full buffer: no allocation while a gap is open). */
  addNow(reason: string, count: number): void {
    const pending = this.gaps.get(reason);
    if (pending) pending.count += count;
    else this.gaps.set(reason, { reason, count, since: nowUnix() });
  }

  /** A copy of the gaps. */
  list(): Gap[] {
    return [...this.gaps.values()].map((g) => ({ ...g }));
  }

  /** The gaps, leaving none. */
  takeAll(): Gap[] {
    const gaps = [...this.gaps.values()];
    this.gaps.clear();
    return gaps;
  }
}

/**
 * Slots allocated up front; the ring doubles, up to `capacity`, only when that many events wait.
 * Small, since most drains of a node with many never hold more than a few events: 1,024 slots cost
 * 16 KB per drain (16 MB of a core's memory with 1,000 drains); a busy drain grows once.
 */
const INITIAL_SLOTS = 64;

/**
 * A drain's bounded FIFO of (key, event JSON). When full, a push drops the oldest event and
 * records the gap. Storage is two parallel arrays used as a ring, so pushing allocates nothing
 * once the ring has grown. Drops for other reasons (recordGap) wait here too, so that the
 * notice telling them travels with the next batch and goes back in front when a send fails.
 */
export class EventBuffer {
  readonly capacity: number;
  private keys: string[];
  private jsons: string[];
  /** Ring index of the oldest event. */
  private head = 0;
  private size = 0;
  /** Drops not told yet, by reason, in the order they began. */
  private readonly untold = new UntoldGaps();
  private readonly droppedBy: Record<string, number> = {};

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

  /** Whether drops wait to be told (with the next batch, or alone when no event waits). */
  get hasUntold(): boolean {
    return this.untold.size > 0;
  }

  /** Events dropped because the buffer was full, since it was created. */
  get dropped(): number {
    return this.droppedBy.buffer_full ?? 0;
  }

  /** Every drop counted here since the buffer was created, by reason. */
  droppedByReason(): Record<string, number> {
    return { ...this.droppedBy };
  }

  /** The drops counted and not told yet (a copy). */
  untoldGaps(): Gap[] {
    return this.untold.list();
  }

  /** Queues an event; what is kept is a copy that holds nothing else alive (ownCopy). */
  push(key: string, json: string): void {
    key = ownCopy(key);
    json = ownCopy(json);
    const slots = this.keys.length;
    if (this.size === this.capacity) {
      // Full (so the ring has `capacity` slots): the new event takes the oldest one's slot.
      const at = this.head;
      this.keys[at] = key;
      this.jsons[at] = json;
      this.head = at + 1 === slots ? 0 : at + 1;
      this.countDrop('buffer_full', 1);
      return;
    }
    if (this.size === slots) this.grow(this.size + 1);
    let at = this.head + this.size;
    if (at >= this.keys.length) at -= this.keys.length;
    this.keys[at] = key;
    this.jsons[at] = json;
    this.size++;
  }

  /** Counts a drop (under its reason) that the next batch taken announces. */
  recordGap(gap: Gap): void {
    this.droppedBy[gap.reason] = (this.droppedBy[gap.reason] ?? 0) + gap.count;
    this.untold.add(gap);
  }

  /**
   * Removes the oldest events: at most `maxEvents`, and no more than `maxBytes` of JSON
   * (counted in UTF-16 units) unless a single event is larger. Carries the untold gaps.
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
    if (this.untold.size > 0) batch.gaps = this.untold.takeAll();
    return batch;
  }

  /** Empties the buffer: everything waiting and every untold gap, for the drain that comes next. */
  takeAll(): HeldEvents {
    const { keys, jsons, gaps } = this.take(Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER);
    return { keys, jsons, gaps: gaps ?? [] };
  }

  /**
   * Puts a batch that could not be sent back in front, with its gaps. The batch's events are
   * the oldest, so those that no longer fit are dropped (and counted) first.
   */
  unshift(batch: EventBatch): void {
    for (const gap of batch.gaps ?? []) this.untold.add(gap);
    const returned = batch.keys.length;
    const fitting = Math.min(returned, this.capacity - this.size);
    if (fitting < returned) this.countDrop('buffer_full', returned - fitting);
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

  private countDrop(reason: string, count: number): void {
    this.droppedBy[reason] = (this.droppedBy[reason] ?? 0) + count;
    this.untold.addNow(reason, count);
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
