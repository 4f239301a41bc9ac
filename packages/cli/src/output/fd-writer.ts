import { write } from 'node:fs';

/** How long to wait before trying again when the reader has not taken anything (EAGAIN). */
const RETRY_MS = 20;
/** Written at most this much per call, so a slow reader holds one threadpool thread for a short while. */
const MAX_WRITE_BYTES = 1 << 20;

/**
 * Writes to a file descriptor (stdout) without ever blocking the event loop, however slow the
 * reader is: writes run in libuv's threadpool, one at a time, and a non-blocking descriptor's
 * EAGAIN is retried a little later. process.stdout is no good for this: on Linux its writes to
 * pipes and terminals are synchronous, so a stalled reader would stall everything else.
 * Not touching process.stdout also keeps Node from turning fd 1 non-blocking.
 */
export class FdWriter {
  private readonly queue: Buffer[] = [];
  private queued = 0;
  private writing = false;
  private blocked = false;
  private failed: Error | null = null;
  private idle: Array<() => void> = [];

  constructor(
    private readonly fd: number,
    private readonly highWaterBytes: number,
    /** Called once the queue falls below the mark again, after write() returned false. */
    private readonly onDrain: () => void,
    /** Called once when writing fails for good (EPIPE: the reader went away). */
    private readonly onError: (err: Error) => void,
  ) {}

  /** Queues `data`; false when the queue is above the mark: stop producing until onDrain. */
  write(data: string | Buffer): boolean {
    if (this.failed) return true;
    const chunk = typeof data === 'string' ? Buffer.from(data) : data;
    this.queue.push(chunk);
    this.queued += chunk.length;
    if (!this.writing) this.pump();
    if (this.queued >= this.highWaterBytes) this.blocked = true;
    return !this.blocked;
  }

  /** Resolves once everything queued is written, writing failed, or `timeoutMs` passed. */
  flush(timeoutMs: number): Promise<void> {
    if (!this.writing || this.failed) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, timeoutMs);
      this.idle.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  private pump(): void {
    this.writing = true;
    const first = this.queue[0];
    const chunk = first.length >= MAX_WRITE_BYTES || this.queue.length === 1 ? first : this.take();
    write(this.fd, chunk, (err, written) => {
      if (err) {
        if ((err as NodeJS.ErrnoException).code === 'EAGAIN') {
          setTimeout(() => this.pump(), RETRY_MS);
          return;
        }
        this.fail(err);
        return;
      }
      this.consume(written);
      if (this.queued > 0) {
        this.pump();
        return;
      }
      this.writing = false;
      for (const resolve of this.idle.splice(0)) resolve();
    });
  }

  /** Joins the queued chunks into one, up to MAX_WRITE_BYTES, so small lines cost few syscalls. */
  private take(): Buffer {
    let size = 0;
    let count = 0;
    while (count < this.queue.length && size + this.queue[count].length <= MAX_WRITE_BYTES) size += this.queue[count++].length;
    const joined = Buffer.concat(this.queue.splice(0, count), size);
    this.queue.unshift(joined);
    return joined;
  }

  private consume(written: number): void {
    this.queued -= written;
    const head = this.queue[0];
    if (written >= head.length) this.queue.shift();
    else this.queue[0] = head.subarray(written);
    if (this.blocked && this.queued < this.highWaterBytes / 2) {
      this.blocked = false;
      this.onDrain();
    }
  }

  private fail(err: Error): void {
    this.failed = err;
    this.queue.length = 0;
    this.queued = 0;
    this.writing = false;
    for (const resolve of this.idle.splice(0)) resolve();
    this.onError(err);
  }
}
