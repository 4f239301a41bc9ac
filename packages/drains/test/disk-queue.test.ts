import { execFileSync } from 'node:child_process';
import { appendFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { checkQueue, DiskQueue, DiskQueueError, type QueuedEvent } from '../src/index.js';

const MiB = 1024 * 1024;
let dir: string;
const opened: DiskQueue[] = [];
const mounts: string[] = [];

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'logyard-disk-'));
});

afterEach(async () => {
  await Promise.all(opened.splice(0).map((queue) => queue.close()));
  for (const mount of mounts.splice(0)) execFileSync('umount', [mount]);
  rmSync(dir, { recursive: true, force: true });
});

async function openQueue(path = join(dir, 'q'), maxBytes = 16 * MiB): Promise<DiskQueue> {
  const queue = await DiskQueue.open(path, { maxBytes, sync: 1000 });
  opened.push(queue);
  return queue;
}

function events(from: number, count: number, pad = 0): QueuedEvent[] {
  return Array.from({ length: count }, (_, i) => ({ key: 'systail.app', json: JSON.stringify({ text: `event ${from + i}`, pad: 'x'.repeat(pad) }) }));
}

/** Reads (and acknowledges) everything, returning the texts in order. */
async function drainAll(queue: DiskQueue, batch = 500): Promise<string[]> {
  const texts: string[] = [];
  for (;;) {
    const got = await queue.peek(batch, 96 * 1024);
    if (got.length === 0) return texts;
    for (const event of got) texts.push((JSON.parse(event.json) as { text: string }).text);
    await queue.ack();
  }
}

const texts = (from: number, count: number): string[] => Array.from({ length: count }, (_, i) => `event ${from + i}`);

function segmentFiles(path: string): string[] {
  return readdirSync(path).filter((name) => name.endsWith('.seg')).sort();
}

describe('disk queue', () => {
  it('gives back what was appended in order, once acknowledged, and resumes after a reopen', async () => {
    let queue = await openQueue();
    for (let i = 0; i < 10; i++) await queue.append(events(i * 1000, 1000, 200));
    expect(queue.events).toBe(10_000);
    const first = await queue.peek(300, MiB);
    expect(await queue.peek(300, MiB)).toEqual(first); // not acknowledged: the same again
    await queue.ack();
    expect(queue.events).toBe(9_700);
    await queue.close();

    queue = await openQueue();
    expect(queue.events).toBe(9_700);
    expect(await drainAll(queue)).toEqual(texts(300, 9_700));
    expect(queue.events).toBe(0);
    await queue.append(events(10_000, 5));
    await queue.close();
    queue = await openQueue();
    expect(await drainAll(queue)).toEqual(texts(10_000, 5));
    expect(segmentFiles(join(dir, 'q')).length).toBeLessThanOrEqual(1);
  });

  it('keeps every character of UTF-8 text, in batches of ASCII and not, small and larger than its write buffer', async () => {
    const queue = await openQueue(join(dir, 'q'), 64 * MiB);
    const unicode = (text: string): QueuedEvent => ({ key: 'systail.app', json: JSON.stringify({ text }) });
    const batches: QueuedEvent[][] = [
      events(0, 3),
      [unicode('ascii'), unicode('café ünïcode'), unicode('emoji 🚀 and 中文'), unicode('é'.repeat(5000))],
      events(3, 2), // ASCII again after the buffer held text that was not
      events(5, 20_000, 250), // about 5.5 MB: more than the buffer an append keeps
      [unicode('last ✓')],
    ];
    for (const batch of batches) await queue.append(batch);
    await queue.close();
    const reopened = await openQueue(join(dir, 'q'), 64 * MiB);
    expect(await drainAll(reopened)).toEqual(batches.flat().map((event) => (JSON.parse(event.json) as { text: string }).text));
    expect(reopened.dropped.corrupt).toBe(0);
  });

  it('puts a batch in front of everything (prepend), after part of the head was acknowledged', async () => {
    const queue = await openQueue();
    await queue.append(events(0, 10));
    await queue.peek(4, MiB);
    await queue.ack();
    await queue.prepend(events(100, 3));
    expect(queue.events).toBe(9);
    expect(await drainAll(queue)).toEqual([...texts(100, 3), ...texts(4, 6)]);
  });

  it('skips a flipped byte in the oldest segment and random bytes after the newest, counting them, and starts', async () => {
    const path = join(dir, 'q');
    let queue = await openQueue(path);
    for (let i = 0; i < 20; i++) await queue.append(events(i * 1000, 1000, 100)); // several 1 MiB segments
    await queue.close();
    const segments = segmentFiles(path);
    expect(segments.length).toBeGreaterThan(2);
    const oldest = join(path, segments[0]);
    const bytes = readFileSync(oldest);
    bytes[5000] ^= 0xff;
    writeFileSync(oldest, bytes);
    appendFileSync(join(path, segments.at(-1) as string), Buffer.from('LYD1\u0000\u0000\u0010\u0000 garbage cut short'));

    expect(await checkQueue(path, false)).toMatchObject({ segments: segments.length, corrupt: 2, events: 19_999 });
    // Beside a running core the newest segment's cut-short record is being written: not corrupt.
    expect((await checkQueue(path, true)).corrupt).toBe(1);

    queue = await openQueue(path);
    expect(queue.events).toBe(19_999);
    const got = await drainAll(queue);
    expect(got.length).toBe(19_999);
    expect(new Set(got).size).toBe(19_999);
    expect(got.at(-1)).toBe('event 19999');
    expect(queue.dropped.corrupt).toBe(2);
    expect(queue.gaps.list()).toMatchObject([{ reason: 'corrupt', count: 2 }]);
  });

  it('full: drops the oldest segments (counted disk_full), the files stay within the size, the newest is kept', async () => {
    const path = join(dir, 'q');
    const queue = await openQueue(path, 16 * MiB);
    let maxSeen = 0;
    const total = 120_000;
    for (let i = 0; i < total; i += 1000) {
      await queue.append(events(i, 1000, 200));
      const onDisk = segmentFiles(path).reduce((sum, name) => sum + statSync(join(path, name)).size, 0);
      maxSeen = Math.max(maxSeen, onDisk);
    }
    expect(maxSeen).toBeLessThanOrEqual(16 * MiB);
    expect(queue.bytes).toBeLessThanOrEqual(16 * MiB);
    expect(queue.dropped.disk_full).toBeGreaterThan(0);
    expect(queue.dropped.disk_full + queue.events).toBe(total);
    expect(queue.gaps.list()).toMatchObject([{ reason: 'disk_full', count: queue.dropped.disk_full }]);
    const got = await drainAll(queue);
    expect(got).toEqual(texts(total - got.length, got.length));
  });

  it('a full filesystem rejects the append with ENOSPC, keeps what it holds and writes again once there is room', async () => {
    const small = join(dir, 'small');
    mkdirSync(small);
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=512k', 'tmpfs', small]);
    mounts.push(small);
    const queue = await openQueue(join(small, 'q'));
    let written = 0;
    let error: unknown;
    while (!error) {
      try {
        await queue.append(events(written, 100, 200));
        written += 100;
      } catch (err) {
        error = err;
      }
    }
    expect(error).toBeInstanceOf(DiskQueueError);
    expect((error as DiskQueueError).code).toBe('ENOSPC');
    expect(queue.events).toBe(written);
    execFileSync('mount', ['-o', 'remount,size=4m', small]);
    await queue.append(events(written, 100, 200));
    expect(await drainAll(queue)).toEqual(texts(0, written + 100));
  });
});
