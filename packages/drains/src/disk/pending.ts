import { nowUnix, type WireRun } from '@logyard/bus';
import type { EventBatch, Gap } from '../buffer.js';
import { HEADER_BYTES, maxRecordBytes, parseRecord, RecordWriter, sealRecord } from './record.js';

/**
 * Bytes per write to the queue: ~1,200 records of 200 bytes, so a spill costs one write call per
 * thousand events, and a segment (at least 256 KiB, disk/16) holds whole chunks.
 */
export const CHUNK_BYTES = 256 * 1024;
/** Empty chunks kept for reuse: a fresh 256 KiB buffer costs page faults and external-memory GC work. */
const FREE_CHUNKS = 4;

/** Records laid out in one buffer, written to the queue with one call. */
export interface Chunk {
  data: Buffer;
  /** Bytes of `data` used. */
  bytes: number;
  records: number;
  /** No more records go in (it is written next, or being written). */
  sealed: boolean;
  /** Drops to tell before its records: older chunks dropped while the disk lagged behind. */
  gapBefore: Gap | null;
}

/**
 * Events on their way to a drain's disk queue, encoded as records on arrival into chunks of
 * CHUNK_BYTES (so a spilling drain keeps no string of an event past its push, and writes a
 * chunk at a time). Oldest chunk first; the last one is being filled.
 */
export class PendingRecords {
  private readonly chunks: Chunk[] = [];
  private readonly free: Buffer[] = [];
  private readonly writer = new RecordWriter();
  /** Records in every chunk. */
  records = 0;
  /** Bytes of the chunks' buffers (what they hold in memory). */
  heldBytes = 0;

  get chunkCount(): number {
    return this.chunks.length;
  }

  /** Encodes one event after every other. */
  add(key: string, json: string | Uint8Array): void {
    const need = maxRecordBytes(key, json);
    let chunk = this.chunks[this.chunks.length - 1];
    if (!chunk || chunk.sealed || chunk.bytes + need > chunk.data.length) {
      if (chunk) chunk.sealed = true;
      chunk = this.newChunk(need);
    }
    chunk.bytes = this.writer.write(chunk.data, chunk.bytes, key, json);
    chunk.records++;
    this.records++;
  }

  /**
   * Encodes `count` lines of a run from `first`: a wire line `<key> <event JSON>` is a record's
   * payload as it is. The lines that fit the chunk are copied in one go behind the room for
   * their headers, then moved forward one by one into place (copyWithin: no view allocated per
   * event, as Buffer.copy makes), each sealed with its header.
   */
  addRun(run: WireRun, first: number, count: number): void {
    const { frame, ends } = run;
    // Indices into the run's `ends`, which holds the lines of its whole batch.
    const base = run.first;
    first += base;
    const last = first + count;
    for (let i = first; i < last; ) {
      const from = i === base ? run.start : ends[i - 1];
      let chunk = this.chunks[this.chunks.length - 1];
      const free = chunk && !chunk.sealed ? chunk.data.length - chunk.bytes : 0;
      // Lines i..j-1 with their newlines, and a header each, fit in what is free.
      let j = i;
      while (j < last && ends[j] - from + HEADER_BYTES * (j - i + 1) <= free) j++;
      if (j === i) {
        if (chunk) chunk.sealed = true;
        chunk = this.newChunk(HEADER_BYTES + ends[i] - from);
        continue;
      }
      const lines = j - i;
      const data = chunk.data;
      let src = chunk.bytes + HEADER_BYTES * lines;
      frame.copy(data, src, from, ends[j - 1]);
      let at = chunk.bytes;
      for (let k = i; k < j; k++) {
        const length = ends[k] - (k === base ? run.start : ends[k - 1]) - 1;
        data.copyWithin(at + HEADER_BYTES, src, src + length);
        sealRecord(data, at, length);
        at += HEADER_BYTES + length;
        src += length + 1;
      }
      chunk.bytes = at;
      chunk.records += lines;
      this.records += lines;
      i = j;
    }
  }

  /** Encodes a batch (its drop notices first, as `notice` makes them) after every other event. */
  addBatch(batch: EventBatch, notice: (gap: Gap) => { key: string; json: string }): void {
    for (const gap of batch.gaps ?? []) {
      const { key, json } = notice(gap);
      this.add(key, json);
    }
    for (let i = 0; i < batch.keys.length; i++) this.add(batch.keys[i], batch.jsons[i]);
  }

  /** Ends the chunk being filled: what it holds is written with the chunks before it. */
  seal(): void {
    const last = this.chunks[this.chunks.length - 1];
    if (last && last.records > 0) last.sealed = true;
  }

  /** Whether the oldest chunk is sealed (ready to be written). */
  get hasSealed(): boolean {
    return this.chunks.length > 0 && this.chunks[0].sealed;
  }

  /** The sealed chunks, oldest first (every chunk but one being filled). */
  sealedChunks(): Chunk[] {
    const last = this.chunks.length - 1;
    return last >= 0 && !this.chunks[last].sealed ? this.chunks.slice(0, last) : this.chunks.slice();
  }

  /** The newest chunk (the one being filled, unless sealed). */
  newest(): Chunk | undefined {
    return this.chunks[this.chunks.length - 1];
  }

  /** Records in the chunk being filled (they wait for more before they are written). */
  get fillingRecords(): number {
    const last = this.chunks[this.chunks.length - 1];
    return last && !last.sealed ? last.records : 0;
  }

  /** The oldest chunk was written: it goes (its buffer kept for reuse). */
  shift(): void {
    const chunk = this.chunks.shift();
    if (chunk) this.release(chunk);
  }

  /**
   * Drops the oldest sealed chunk after the first `keep` (being written) that has a chunk after
   * it, its records counted as `buffer_full` in the next chunk's gap. Returns how many records
   * went (0: none could).
   */
  dropOldest(keep: number): number {
    const chunk = this.chunks[keep];
    const next = this.chunks[keep + 1];
    if (!chunk || !chunk.sealed || !next) return 0;
    this.chunks.splice(keep, 1);
    const earlier = chunk.gapBefore ?? next.gapBefore;
    const count = chunk.records + (chunk.gapBefore?.count ?? 0) + (next.gapBefore?.count ?? 0);
    next.gapBefore = { reason: 'buffer_full', count, since: earlier?.since ?? nowUnix() };
    this.release(chunk);
    return chunk.records;
  }

  /**
   * Decodes and removes every record (the disk failed: they wait in memory instead), the gaps
   * of dropped chunks first.
   */
  takeAll(): EventBatch {
    const batch: EventBatch = { keys: [], jsons: [] };
    const gaps: Gap[] = [];
    for (const chunk of this.chunks) {
      if (chunk.gapBefore) gaps.push(chunk.gapBefore);
      for (let at = 0; at < chunk.bytes; ) {
        const parsed = parseRecord(chunk.data, at);
        if (parsed.kind !== 'record') throw new Error(`internal error: pending record at ${at} is ${parsed.kind}`);
        batch.keys.push(parsed.event.key);
        batch.jsons.push(parsed.event.json);
        at += parsed.bytes;
      }
    }
    while (this.chunks.length > 0) this.shift();
    if (gaps.length > 0) batch.gaps = gaps;
    return batch;
  }

  private newChunk(need: number): Chunk {
    // An event larger than a chunk gets a buffer of its own size.
    const data = need > CHUNK_BYTES ? Buffer.allocUnsafe(need) : (this.free.pop() ?? Buffer.allocUnsafe(CHUNK_BYTES));
    const chunk: Chunk = { data, bytes: 0, records: 0, sealed: false, gapBefore: null };
    this.chunks.push(chunk);
    this.heldBytes += data.length;
    return chunk;
  }

  private release(chunk: Chunk): void {
    this.records -= chunk.records;
    this.heldBytes -= chunk.data.length;
    if (chunk.data.length === CHUNK_BYTES && this.free.length < FREE_CHUNKS) this.free.push(chunk.data);
  }
}
