/**
 * The retry schedule of docs/drains.md, as [trouble lasted less than (ms), wait between tries (ms)]:
 * every 5 s during the first minute of trouble, 30 s up to 6 minutes, 60 s up to 16 minutes.
 */
const SCHEDULE: ReadonlyArray<readonly [number, number]> = [
  [60_000, 5_000],
  [6 * 60_000, 30_000],
  [16 * 60_000, 60_000],
];
/** The wait once trouble has lasted 16 minutes or more. */
const LONGEST_WAIT_MS = 5 * 60_000;
/** Each wait is stretched or shrunk by up to this fraction so many nodes do not retry in step. */
const JITTER = 0.2;

/**
 * Milliseconds to wait before retry number `attempt` (0-based) of a trouble period that began
 * at `troubleStartedAt` (ms, like Date.now()). The first retry happens at once.
 */
export function retryDelayMs(troubleStartedAt: number, now: number, attempt: number, random: () => number = Math.random): number {
  if (attempt === 0) return 0;
  const troubleLasted = now - troubleStartedAt;
  const step = SCHEDULE.find(([until]) => troubleLasted < until);
  const wait = step ? step[1] : LONGEST_WAIT_MS;
  return Math.round(wait * (1 - JITTER + 2 * JITTER * random()));
}
