import { describe, expect, it } from 'vitest';
import { retryDelayMs } from '../src/index.js';

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const middle = (): number => 0.5; // no jitter
const lowest = (): number => 0; // -20 %
const highest = (): number => 1; // +20 %

describe('retryDelayMs', () => {
  it('retries at once first, whatever the time', () => {
    expect(retryDelayMs(0, 0, 0, middle)).toBe(0);
    expect(retryDelayMs(0, 30 * MINUTE, 0, middle)).toBe(0);
  });

  it.each([
    [0, 5 * SECOND],
    [59 * SECOND, 5 * SECOND],
    [1 * MINUTE, 30 * SECOND],
    [5 * MINUTE + 59 * SECOND, 30 * SECOND],
    [6 * MINUTE, 60 * SECOND],
    [15 * MINUTE + 59 * SECOND, 60 * SECOND],
    [16 * MINUTE, 5 * MINUTE],
    [3 * 60 * MINUTE, 5 * MINUTE],
  ])('after %i ms of trouble waits %i ms', (troubleLasted, wait) => {
    const start = 1_700_000_000_000;
    expect(retryDelayMs(start, start + troubleLasted, 3, middle)).toBe(wait);
  });

  it('applies ±20 % jitter', () => {
    expect(retryDelayMs(0, 0, 1, lowest)).toBe(4 * SECOND);
    expect(retryDelayMs(0, 0, 1, highest)).toBe(6 * SECOND);
    expect(retryDelayMs(0, 20 * MINUTE, 1, lowest)).toBe(4 * MINUTE);
    expect(retryDelayMs(0, 20 * MINUTE, 1, highest)).toBe(6 * MINUTE);
  });
});
