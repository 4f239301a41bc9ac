import { constants } from 'node:fs';
import { mkdir, open, readdir, rename, rm, stat, unlink, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { UntoldGaps } from '../buffer.js';
import { DiskQueueError } from '../errors.js';
import { crc32 } from './crc32.js';
import { encodeRecords, type QueuedEvent } from './record.js';
import { SegmentReader } from './segment-reader.js';

/** How often the queue is synced to disk: every N ms, or after every write. */
export type DiskSync = number | 'always';

export interface DiskQueueOptions {
  /** The most bytes its segment files may hold together (`disk=SIZE`). */
  maxBytes: number;
  sync: DiskSync;
}

/** Records laid out one after another (record.ts), and how many. */
export interface RecordPart {
  data: Buffer;
  records: number;
}

export interface Segment {
  id: number;
  path: string;
  /** Bytes written (and known whole): what a reader may read. */
  length: number;
  /** Records in it that were not acknowledged when it was found or written. */
  records: number;
}

/** Segment ids start here, leaving room below for segments put in front (prepend). */
const FIRST_ID = 2 ** 32;
const SEGMENT_SUFFIX = '.seg';
/** Where the oldest unacknowledged record is: segment id, offset, CRC32 of both (20 bytes). */
export const CURSOR_FILE = 'cursor';
const MIN_SEGMENT_BYTES = 256 * 1024;
const MAX_SEGMENT_BYTES = 64 * 1024 * 1024;
/** Records counted per read while scanning at open (their strings are not made). */
const SCAN_BATCH = 10_000;

/**
 * One drain's on-disk queue (docs/drains.md, disk buffers): segment files of CRC-checked records appended in order;
 * a record leaves only when acknowledged (`peek` then `ack`). Memory holds one read chunk and a
 * few numbers per segment, however much is queued. Full: the oldest segment goes, counted as
 * `disk_full`. A corrupt or torn record is skipped and counted as `corrupt`; none stops open().
 * A failing disk makes append() reject with a DiskQueueError and leaves the queue usable.
 */
export class DiskQueue {
  /** Drops not told in-band yet (`disk_full`, `corrupt`): the drain tells and clears them. */
  readonly gaps = new UntoldGaps();
  readonly dropped = { disk_full: 0, corrupt: 0 };
  private readonly segments: Segment[];
  private readonly segmentMax: number;
  private writer: FileHandle | null = null;
  private writerDirty = false;
  /**
   * Segments sealed since the last sync, and whether a segment was created: synced (the files,
   * then the directory) by the next sync, not at once. A small queue (1 MiB segments) rolls
   * every few thousand events, and two fsyncs per roll made the disk fall behind a spill.
   */
  private unsynced: FileHandle[] = [];
  private dirDirty = false;
  /** Offset in segments[0] of its oldest unacknowledged record, and records acknowledged in it. */
  private ackOffset: number;
  private ackedRecords = 0;
  private cursorDirty = false;
  private reader: SegmentReader | null = null;
  /** What the last peek returned and where acknowledging it leads. */
  private peeked: { segmentId: number; ends: number[] } | null = null;
  private lock: Promise<unknown> = Promise.resolve();
  /** The timer's sync in progress; cursor writes in the order they were taken. */
  private syncing: Promise<void> | null = null;
  private cursorWrites: Promise<void> = Promise.resolve();
  private readonly timer: NodeJS.Timeout | null;
  private closing: Promise<void> | null = null;

  private constructor(
    readonly dir: string,
    private readonly options: DiskQueueOptions,
    segments: Segment[],
    ackOffset: number,
    private readonly cursor: FileHandle,
  ) {
    this.segments = segments;
    this.ackOffset = ackOffset;
    this.segmentMax = Math.min(MAX_SEGMENT_BYTES, Math.max(MIN_SEGMENT_BYTES, Math.floor(options.maxBytes / 16)));
    if (options.sync === 'always') {
      this.timer = null;
    } else {
      this.timer = setInterval(() => {
        if (this.syncing) return; // the last one is still at it: no pile-up on a slow disk
        this.syncing = this.syncBeside()
          .catch(() => undefined)
          .finally(() => (this.syncing = null));
      }, options.sync);
      this.timer.unref();
    }
  }

  /**
   * Opens (creating) the queue in `dir`: finds its segments, where reading left off, and counts
   * what waits, reading a chunk at a time.
   */
  static async open(dir: string, options: DiskQueueOptions): Promise<DiskQueue> {
    try {
      await makeDir(dir);
      const segments = await listSegments(dir);
      const cursor = await open(join(dir, CURSOR_FILE), constants.O_RDWR | constants.O_CREAT, 0o600);
      const { ackOffset, acked } = await resumePoint(cursor, segments);
      for (const gone of acked) await unlink(gone.path);
      for (const [i, segment] of segments.entries()) segment.records = (await scanSegment(segment, i === 0 ? ackOffset : 0)).records;
      return new DiskQueue(dir, options, segments, ackOffset, cursor);
    } catch (err) {
      throw DiskQueueError.of(err);
    }
  }

  /** Deletes a queue (its drain was deleted). */
  static async remove(dir: string): Promise<void> {
    await rm(dir, { recursive: true, force: true });
  }

  /** Events waiting (read but unacknowledged ones included). */
  get events(): number {
    let count = -this.ackedRecords;
    for (const segment of this.segments) count += segment.records;
    return Math.max(0, count);
  }

  /** Bytes of its segment files. */
  get bytes(): number {
    let bytes = 0;
    for (const segment of this.segments) bytes += segment.length;
    return bytes;
  }

  /** Appends events after every other. Rejects with a DiskQueueError when the disk fails. */
  append(events: readonly QueuedEvent[]): Promise<void> {
    if (events.length === 0) return Promise.resolve();
    return this.appendRecords([{ data: encodeRecords(events), records: events.length }], () => undefined);
  }

  /**
   * Appends records already laid out (record.ts), part after part, with one write (writev) per
   * segment they go to. `onWritten(n)` tells when the next n parts are in the queue (their data
   * is the caller's again). Rejects with a DiskQueueError when the disk fails: the parts not told
   * written are not in the queue.
   */
  appendRecords(parts: readonly RecordPart[], onWritten: (parts: number) => void): Promise<void> {
    if (parts.length === 0) return Promise.resolve();
    return this.exclusive(async () => {
      for (let from = 0; from < parts.length; ) {
        const to = this.partsFitting(parts, from);
        let bytes = 0;
        let records = 0;
        for (let i = from; i < to; i++) {
          bytes += parts[i].data.length;
          records += parts[i].records;
        }
        await this.makeRoom(bytes);
        const segment = await this.writableSegment(bytes);
        await this.writeAll(segment, parts.slice(from, to).map((part) => part.data));
        segment.records += records;
        if (this.options.sync === 'always') await this.sync();
        onWritten(to - from);
        from = to;
      }
    });
  }

  /** The end of the run of parts from `from` that one segment takes (at least one part). */
  private partsFitting(parts: readonly RecordPart[], from: number): number {
    const current = this.writingSegment();
    const first = parts[from].data.length;
    // writableSegment() goes on with the current segment when the first part fits in it.
    const used = current && current.length > 0 && current.length + first <= this.segmentMax ? current.length : 0;
    let bytes = used + first;
    let to = from + 1;
    while (to < parts.length && bytes + parts[to].data.length <= this.segmentMax) bytes += parts[to++].data.length;
    return to;
  }

  /**
   * Puts events in front of every other (the drain's batch that failed while newer events were
   * already spilled). No peek may be outstanding.
   */
  prepend(events: readonly QueuedEvent[]): Promise<void> {
    if (events.length === 0) return Promise.resolve();
    if (this.segments.length === 0) return this.append(events);
    return this.exclusive(async () => {
      const data = encodeRecords(events);
      await this.makeRoom(data.length);
      const head = this.segments[0];
      const segment: Segment = { id: head.id - 1, path: segmentPath(this.dir, head.id - 1), length: 0, records: 0 };
      // The head's acknowledged part stays skipped: it is kept as its own, shorter segment.
      const handle = await open(segment.path, 'wx').catch((err: unknown) => Promise.reject(DiskQueueError.of(err)));
      try {
        await writeFully(handle, data, 0);
        await handle.datasync();
      } catch (err) {
        await handle.close().catch(() => undefined);
        await unlink(segment.path).catch(() => undefined);
        throw DiskQueueError.of(err);
      }
      await handle.close();
      segment.length = data.length;
      segment.records = events.length;
      await this.dropAcknowledgedStart(head);
      this.segments.unshift(segment);
      this.ackOffset = 0;
      this.ackedRecords = 0;
      this.peeked = null;
      await this.closeReader();
      await this.writeCursor();
    });
  }

  /**
   * The oldest waiting events (at most `maxEvents`, about `maxBytes`), from one segment; the
   * same again until ack(). Skips corrupt records, counting them. Empty when none waits.
   */
  peek(maxEvents: number, maxBytes: number): Promise<QueuedEvent[]> {
    return this.exclusive(async () => {
      for (;;) {
        const head = this.segments[0];
        if (!head) return [];
        this.reader ??= new SegmentReader(head.path, this.ackOffset, head.length);
        this.reader.seek(this.ackOffset);
        this.reader.limit = head.length;
        const read = await this.reader.read(maxEvents, maxBytes);
        const sealed = head !== this.writingSegment();
        const corrupt = read.corrupt + (read.tornTail && sealed ? 1 : 0);
        if (corrupt > 0) this.countDrop('corrupt', corrupt);
        if (read.events.length > 0) {
          this.peeked = { segmentId: head.id, ends: read.ends };
          return read.events;
        }
        // Nothing whole left in the head: past it (when sealed), else nothing waits. The count
        // follows (a record found whole at open and damaged since must not be waited for).
        this.ackOffset = read.offset;
        if (!sealed) {
          head.records = this.ackedRecords;
          return [];
        }
        await this.removeHead();
      }
    });
  }

  /** The first `count` events of the last peek (default all) were taken by the target: they leave the queue. */
  ack(count?: number): Promise<void> {
    return this.exclusive(async () => {
      const peeked = this.peeked;
      this.peeked = null;
      const head = this.segments[0];
      // Gone meanwhile (dropped as the oldest when the queue was full): nothing to move.
      if (!peeked || !head || head.id !== peeked.segmentId) return;
      const acked = Math.min(count ?? peeked.ends.length, peeked.ends.length);
      if (acked <= 0) return;
      this.ackOffset = peeked.ends[acked - 1];
      this.ackedRecords += acked;
      this.cursorDirty = true;
      if (this.ackOffset >= head.length && head !== this.writingSegment()) await this.removeHead();
      if (this.options.sync === 'always') await this.sync();
    });
  }

  /** Removes the `count` oldest records (a copy put in front with prepend() that was delivered). */
  async dropFront(count: number): Promise<void> {
    while (count > 0) {
      const got = await this.peek(count, Number.MAX_SAFE_INTEGER);
      if (got.length === 0) return;
      await this.ack(got.length);
      count -= got.length;
    }
  }

  /** Syncs now what was written and acknowledged (besides the disk_sync timer). */
  flush(): Promise<void> {
    return this.syncBeside();
  }

  /**
   * What needs syncing is taken under the lock; the syncing itself runs beside appends and
   * reads (a datasync can take long on a busy disk, and must not stall them).
   */
  private async syncBeside(): Promise<void> {
    const { writer, sealed, dir, cursor } = await this.exclusive(async () => {
      const taken = { writer: this.writerDirty ? this.writer : null, sealed: this.unsynced, dir: this.dirDirty, cursor: this.cursorDirty ? this.cursorBytes() : null };
      this.writerDirty = false;
      this.unsynced = [];
      this.dirDirty = false;
      this.cursorDirty = false;
      return taken;
    });
    await syncAndClose(sealed);
    // Sealed meanwhile: closed by the sync that took it from `unsynced`.
    await writer?.datasync().catch((err: unknown) => {
      if ((err as NodeJS.ErrnoException).code !== 'EBADF') throw err;
    });
    if (dir) await syncDir(this.dir);
    if (cursor) await this.writeCursorBytes(cursor);
  }

  /** Syncs and closes; idempotent. The queue stays on disk for the next open. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      if (this.timer) clearInterval(this.timer);
      // Outside the lock: the timer's sync takes it first.
      await this.syncing;
      await this.exclusive(async () => {
        await this.sync().catch(() => undefined);
        await this.cursorWrites;
        for (const handle of this.unsynced.splice(0)) await handle.close().catch(() => undefined);
        await this.writer?.close().catch(() => undefined);
        this.writer = null;
        await this.closeReader();
        await this.cursor.close().catch(() => undefined);
      });
    })();
    return this.closing;
  }

  /** Runs `fn` after every call before it: appends, reads and acks never interleave. */
  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.lock.then(fn, fn);
    this.lock = run.catch(() => undefined);
    return run;
  }

  private countDrop(reason: 'disk_full' | 'corrupt', count: number): void {
    if (count <= 0) return;
    this.dropped[reason] += count;
    this.gaps.addNow(reason, count);
  }

  private writingSegment(): Segment | null {
    return this.writer ? this.segments[this.segments.length - 1] : null;
  }

  /** Full at maxBytes: the oldest segments go (their waiting records counted) until `bytes` fit. */
  private async makeRoom(bytes: number): Promise<void> {
    while (this.segments.length > 0 && this.bytes + bytes > this.options.maxBytes) {
      if (this.segments.length === 1 && this.writer) await this.sealWriter();
      const head = this.segments[0];
      this.countDrop('disk_full', head.records - this.ackedRecords);
      await this.removeHead();
    }
  }

  private async removeHead(): Promise<void> {
    const head = this.segments.shift();
    if (!head) return;
    if (this.writer && this.segments.length === 0) await this.sealWriter();
    await this.closeReader();
    this.ackOffset = 0;
    this.ackedRecords = 0;
    this.peeked = null;
    this.cursorDirty = true;
    await unlink(head.path).catch((err: unknown) => {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw DiskQueueError.of(err);
    });
  }

  /** Before a segment is put in front: the acknowledged start of the old head must not come back. */
  private async dropAcknowledgedStart(head: Segment): Promise<void> {
    if (this.ackOffset === 0) return;
    // The cursor can only point into the first segment: the old head's acknowledged records
    // would be read again. Its rest is copied into a segment of its own, then it goes.
    const reader = new SegmentReader(head.path, this.ackOffset, head.length);
    const rest: QueuedEvent[] = [];
    try {
      while (!reader.done) rest.push(...(await reader.read(SCAN_BATCH, Number.MAX_SAFE_INTEGER)).events);
    } finally {
      await reader.close();
    }
    const isWriting = head === this.writingSegment();
    if (isWriting) await this.sealWriter();
    const data = encodeRecords(rest);
    const copyPath = `${head.path}.tmp`;
    const handle = await open(copyPath, 'w');
    try {
      await writeFully(handle, data, 0);
      await handle.datasync();
    } finally {
      await handle.close();
    }
    await rename(copyPath, head.path);
    await this.closeReader();
    head.length = data.length;
    head.records = rest.length;
  }

  private async writableSegment(incoming: number): Promise<Segment> {
    const current = this.writingSegment();
    if (current && (current.length === 0 || current.length + incoming <= this.segmentMax)) return current;
    if (current) await this.sealWriter();
    const last = this.segments[this.segments.length - 1];
    const id = last ? last.id + 1 : FIRST_ID;
    const segment: Segment = { id, path: segmentPath(this.dir, id), length: 0, records: 0 };
    try {
      this.writer = await open(segment.path, 'wx');
      this.dirDirty = true; // the new file's name survives a power cut once the directory is synced
    } catch (err) {
      await this.writer?.close().catch(() => undefined);
      this.writer = null;
      throw DiskQueueError.of(err);
    }
    this.segments.push(segment);
    if (this.segments.length === 1) {
      this.ackOffset = 0;
      this.ackedRecords = 0;
      this.cursorDirty = true;
    }
    return segment;
  }

  /** Writes `data` at the segment's end; a failed write is cut back off (or the segment sealed). */
  private async writeAll(segment: Segment, data: Buffer[]): Promise<void> {
    const writer = this.writer as FileHandle;
    try {
      await writevFully(writer, data, segment.length);
    } catch (err) {
      // What was written of it is not whole records: cut it, else stop writing to this file.
      if (!(await writer.truncate(segment.length).then(() => true, () => false))) await this.sealWriter();
      throw DiskQueueError.of(err);
    }
    for (const part of data) segment.length += part.length;
    this.writerDirty = true;
  }

  private async sealWriter(): Promise<void> {
    const writer = this.writer;
    if (!writer) return;
    this.writer = null;
    // Even when clean: a sync taken by syncBeside() may not have reached this handle yet.
    this.unsynced.push(writer);
    this.writerDirty = false;
  }

  private async closeReader(): Promise<void> {
    const reader = this.reader;
    this.reader = null;
    await reader?.close().catch(() => undefined);
  }

  private async sync(): Promise<void> {
    await syncAndClose(this.unsynced.splice(0));
    if (this.writer && this.writerDirty) {
      this.writerDirty = false;
      await this.writer.datasync();
    }
    if (this.dirDirty) {
      this.dirDirty = false;
      await syncDir(this.dir);
    }
    if (this.cursorDirty) await this.writeCursor();
  }

  private async writeCursor(): Promise<void> {
    this.cursorDirty = false;
    await this.writeCursorBytes(this.cursorBytes());
  }

  private cursorBytes(): Buffer {
    const head = this.segments[0];
    return encodeCursor(head ? head.id : 0, this.ackOffset);
  }

  /**
   * 20 bytes in place, with their CRC: a torn cursor is seen as such (and reading restarts at
   * the oldest segment: repeated, not lost). Chained, so that a newer cursor is never overwritten
   * by an older one.
   */
  private writeCursorBytes(bytes: Buffer): Promise<void> {
    const write = this.cursorWrites.then(async () => {
      await this.cursor.write(bytes, 0, bytes.length, 0);
      await this.cursor.datasync();
    });
    this.cursorWrites = write.catch(() => undefined);
    return write;
  }
}

function segmentPath(dir: string, id: number): string {
  return join(dir, `${String(id).padStart(16, '0')}${SEGMENT_SUFFIX}`);
}

/** The segment files of `dir`, oldest first, with their sizes (records still to count). */
export async function listSegments(dir: string): Promise<Segment[]> {
  const names = (await readdir(dir)).filter((name) => /^\d{16}\.seg$/.test(name));
  const segments: Segment[] = [];
  for (const name of names) {
    const path = join(dir, name);
    const size = await stat(path).then((s) => s.size, () => -1);
    if (size >= 0) segments.push({ id: Number(name.slice(0, 16)), path, length: size, records: 0 });
  }
  return segments.sort((a, b) => a.id - b.id);
}

export interface SegmentScan {
  records: number;
  /** Corrupt stretches (each lost at least one record). */
  corrupt: number;
  /** The data ends inside a record: a crash mid-write, or a write in progress. */
  tornTail: boolean;
}

/** Counts the whole records of a segment from `offset`, a chunk at a time (strings not made). */
export async function scanSegment(segment: Segment, offset: number): Promise<SegmentScan> {
  const reader = new SegmentReader(segment.path, offset, segment.length);
  const scan: SegmentScan = { records: 0, corrupt: 0, tornTail: false };
  try {
    while (!reader.done) {
      const read = await reader.read(SCAN_BATCH, Number.MAX_SAFE_INTEGER, false);
      scan.records += read.events.length;
      scan.corrupt += read.corrupt;
      scan.tornTail = read.tornTail;
    }
  } finally {
    await reader.close();
  }
  return scan;
}

function encodeCursor(segmentId: number, offset: number): Buffer {
  const buf = Buffer.alloc(20);
  buf.writeBigUInt64BE(BigInt(segmentId), 0);
  buf.writeBigUInt64BE(BigInt(offset), 8);
  buf.writeUInt32BE(crc32(buf, 0, 16), 16);
  return buf;
}

/**
 * Where reading resumes: the cursor's segment and offset when the cursor is whole and names a
 * segment there; else the start of the oldest segment (repeating, never losing). Segments
 * before the cursor's were acknowledged entirely: they are returned to be deleted.
 */
export async function resumePoint(cursor: FileHandle, segments: Segment[]): Promise<{ ackOffset: number; acked: Segment[] }> {
  const buf = Buffer.alloc(20);
  const { bytesRead } = await cursor.read(buf, 0, 20, 0);
  if (bytesRead < 20 || crc32(buf, 0, 16) !== buf.readUInt32BE(16)) return { ackOffset: 0, acked: [] };
  const id = Number(buf.readBigUInt64BE(0));
  const offset = Number(buf.readBigUInt64BE(8));
  const at = segments.findIndex((segment) => segment.id === id);
  if (at < 0) {
    // Its segment was finished and deleted: every segment before the next one is done too.
    const firstAfter = segments.findIndex((segment) => segment.id > id);
    const acked = segments.splice(0, firstAfter < 0 ? segments.length : firstAfter);
    return { ackOffset: 0, acked };
  }
  const acked = segments.splice(0, at);
  return { ackOffset: offset <= segments[0].length ? offset : 0, acked };
}

/** writev() until every byte is written (a write may take only part). */
async function writevFully(handle: FileHandle, data: Buffer[], position: number): Promise<void> {
  let rest = data;
  while (rest.length > 0) {
    let written = (await handle.writev(rest, position)).bytesWritten;
    position += written;
    let i = 0;
    while (i < rest.length && written >= rest[i].length) written -= rest[i++].length;
    rest = rest.slice(i);
    if (written > 0) rest[0] = rest[0].subarray(written);
  }
}

async function writeFully(handle: FileHandle, data: Buffer, position: number): Promise<void> {
  let written = 0;
  while (written < data.length) {
    written += (await handle.write(data, written, data.length - written, position + written)).bytesWritten;
  }
}

/**
 * mkdir -p, with the real reason when it fails: Node's recursive mkdir says ENOENT where the
 * filesystem is read-only (EROFS); making the last directory alone tells it.
 */
async function makeDir(dir: string): Promise<void> {
  try {
    await mkdir(dir, { recursive: true, mode: 0o700 });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') await mkdir(dir, { mode: 0o700 });
    throw err;
  }
}

/** Syncs the files and closes them (each closed even when a sync fails; the first failure is thrown). */
async function syncAndClose(handles: FileHandle[]): Promise<void> {
  let failure: unknown = null;
  for (const handle of handles) {
    await handle.datasync().catch((err: unknown) => (failure ??= err));
    await handle.close().catch(() => undefined);
  }
  if (failure !== null) throw failure;
}

async function syncDir(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
