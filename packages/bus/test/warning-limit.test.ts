import { describe, expect, it } from 'vitest';
import { WarningLimit } from '../src/index.js';

describe('WarningLimit', () => {
  it('lets a warning of each kind through once a minute', () => {
    let now = 0;
    const limit = new WarningLimit<string>(60_000, () => now);
    expect(limit.take('bad_event')).toBe(true);
    expect(limit.take('bad_event')).toBe(false);
    expect(limit.take('bad_key')).toBe(true);
    now += 59_999;
    expect(limit.take('bad_event')).toBe(false);
    now += 1;
    expect(limit.take('bad_event')).toBe(true);
    expect(limit.take('bad_key')).toBe(true);
  });
});
