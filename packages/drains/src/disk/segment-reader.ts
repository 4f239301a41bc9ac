import { open, type FileHandle } from 'node:fs/promises';
import { MAGIC_BYTES, parseRecord, type QueuedEvent } from './record.js';

/** Bytes read from a segment at a time: what a reader holds, however much is queued. */
const READ_CHUNK = 1024 * 1024;

export interface ReadResult {
  events: QueuedEvent[];
  /** The file offset after each event of `events` (what acknowledging it advances to). */
  ends: number[];
  /** Corrupt stretches skipped while reading these (each lost at least one record). */
  corrupt: number;
  /** A stretch that ended the data began as a record cut short (a crash, or a write in progress). */
  tornTail: boolean;
  /** Where reading stopped: the offset of the next record. */
  offset: number;
}

/**
 * Reads the records of one segment file from `offset` up to `limit` (the bytes known to be
 * written), a chunk at a time. Skips what is not a record up to the next record header.
 */
export class SegmentReader {
  private handle: FileHandle | null = null;
  private buf = Buffer.alloc(0);
  /** The file offset of buf[0]. */
  private bufStart = 0;
  private inCorruptRun = false;

  constructor(
    private readonly path: string,
    public offset: number,
    public limit: number,
  ) {}

  /** Reads next from `offset` (again, after a read that was not acknowledged). */
  seek(offset: number): void {
    this.offset = offset;
    this.inCorruptRun = false;
    if (offset < this.bufStart || offset > this.bufStart + this.buf.length) {
      this.buf = Buffer.alloc(0);
      this.bufStart = offset;
    }
  }

  get done(): boolean {
    return this.offset >= this.limit;
  }

  /**
   * At most `maxEvents` events and about `maxBytes` of records (at least one when any is left);
   * `decode` false only counts them (their strings are not made).
   */
  async read(maxEvents: number, maxBytes: number, decode = true): Promise<ReadResult> {
    const result: ReadResult = { events: [], ends: [], corrupt: 0, tornTail: false, offset: this.offset };
    let bytes = 0;
    while (this.offset < this.limit && result.events.length < maxEvents && (bytes < maxBytes || result.events.length === 0)) {
      const at = this.offset - this.bufStart;
      const parsed = parseRecord(this.buf, at, decode);
      if (parsed.kind === 'incomplete') {
        if (this.offset + parsed.need <= this.limit) {
          await this.fill(parsed.need);
          continue;
        }
        // Cut short by the end of the data: a torn last record, or a corrupt length field.
        const magicAt = await this.findMagicAfter(this.offset);
        if (magicAt >= this.limit) result.tornTail = true;
        else this.markCorrupt(result);
        this.offset = magicAt;
        continue;
      }
      if (parsed.kind === 'corrupt') {
        this.markCorrupt(result);
        this.offset = await this.findMagicAfter(this.offset);
        continue;
      }
      this.inCorruptRun = false;
      this.offset += parsed.bytes;
      bytes += parsed.bytes;
      result.events.push(parsed.event);
      result.ends.push(this.offset);
    }
    result.offset = this.offset;
    return result;
  }

  async close(): Promise<void> {
    const handle = this.handle;
    this.handle = null;
    this.buf = Buffer.alloc(0);
    await handle?.close();
  }

  private markCorrupt(result: ReadResult): void {
    if (!this.inCorruptRun) result.corrupt++;
    this.inCorruptRun = true;
  }

  /** The offset of the next record header after `from`, or `limit`. */
  private async findMagicAfter(from: number): Promise<number> {
    let at = from;
    for (;;) {
      const rel = at - this.bufStart;
      if (rel >= 0 && rel < this.buf.length) {
        const found = this.buf.indexOf(MAGIC_BYTES, rel + 1);
        if (found >= 0) return Math.min(this.bufStart + found, this.limit);
      }
      const bufEnd = this.bufStart + this.buf.length;
      if (bufEnd >= this.limit) return this.limit;
      at = Math.max(at, bufEnd - MAGIC_BYTES.length); // a header may straddle two chunks
      await this.fill(MAGIC_BYTES.length + 1, at);
    }
  }

  /** Makes buf hold at least `need` bytes from `from` (or all there is up to limit). */
  private async fill(need: number, from = this.offset): Promise<void> {
    this.handle ??= await open(this.path, 'r');
    const size = Math.min(Math.max(need, READ_CHUNK), this.limit - from);
    const buf = Buffer.allocUnsafe(size);
    let got = 0;
    while (got < size) {
      const { bytesRead } = await this.handle.read(buf, got, size - got, from + got);
      if (bytesRead === 0) break;
      got += bytesRead;
    }
    this.buf = buf.subarray(0, got);
    this.bufStart = from;
    // The file is shorter than what was known to be written (truncated by someone): stop there.
    if (got < Math.min(need, size)) this.limit = from + got;
  }
}
