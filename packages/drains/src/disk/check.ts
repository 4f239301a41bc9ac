import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { CURSOR_FILE, listSegments, resumePoint, scanSegment } from './queue.js';

export interface QueueCheck {
  segments: number;
  /** Events waiting. */
  events: number;
  /** Bytes of its segment files. */
  bytes: number;
  /** Corrupt or torn records found. */
  corrupt: number;
}

/**
 * Reads a drain's queue without changing it (beside a running core too). With `live` (a core
 * is running), a record cut short at the end of the newest segment is being written, not corrupt.
 */
export async function checkQueue(dir: string, live: boolean): Promise<QueueCheck> {
  const segments = await listSegments(dir);
  const bytes = segments.reduce((sum, segment) => sum + segment.length, 0);
  const total = segments.length;
  let ackOffset = 0;
  const cursor = await open(join(dir, CURSOR_FILE), 'r').catch(() => null);
  if (cursor) {
    try {
      ackOffset = (await resumePoint(cursor, segments)).ackOffset; // drops acknowledged segments from the list
    } finally {
      await cursor.close();
    }
  }
  const check: QueueCheck = { segments: total, events: 0, bytes, corrupt: 0 };
  for (const [i, segment] of segments.entries()) {
    const scan = await scanSegment(segment, i === 0 ? ackOffset : 0);
    check.events += scan.records;
    check.corrupt += scan.corrupt;
    const newest = i === segments.length - 1;
    if (scan.tornTail && !(live && newest)) check.corrupt++;
  }
  return check;
}
