import { describe, expect, it } from 'vitest';
import { RateLimiter, rateLimitNoticeText, type RateLimitReport } from '../src/index.js';

describe('RateLimiter', () => {
  it('passes a burst, then the rate, and reports the begin and the count of each run of drops', () => {
    let t = 0;
    const reports: RateLimitReport[] = [];
    const limiter = new RateLimiter({ rate: 10, burst: 5, now: () => t, onReport: (r) => reports.push(r) });
    const passed = Array.from({ length: 8 }, () => limiter.take('a')).filter(Boolean).length;
    expect(passed).toBe(5);
    expect(reports).toEqual([{ kind: 'begin', key: 'a', rate: 10, burst: 5, since: 0 }]);
    expect(limiter.take('b')).toBe(true); // keys are independent
    t = 100; // one token back
    expect(limiter.take('a')).toBe(true);
    expect(reports[1]).toMatchObject({ kind: 'end', key: 'a', dropped: 3 });
    expect(limiter.dropped).toBe(3);
    expect(rateLimitNoticeText(reports[0])).toBe('logyard: beginning to drop events from a (rate limit 10/s)');
    expect(rateLimitNoticeText(reports[1])).toMatch(/^logyard: dropped 3 events from a since \S+ \(rate limit 10\/s\)$/);
  });

  it('tells a sustained flood once as it begins, then its count at most once a second, every drop counted', () => {
    let t = 0;
    const reports: RateLimitReport[] = [];
    const limiter = new RateLimiter({ rate: 10, burst: 5, now: () => t, onReport: (r) => reports.push(r) });
    let passed = 0;
    // 100 events/s for 5 s against a rate of 10/s: a token comes back every 100 ms all along.
    for (; t < 5_000; t += 10) if (limiter.take('flood')) passed++;
    t = 7_000;
    limiter.flush();
    expect(reports.filter((r) => r.kind === 'begin')).toHaveLength(1);
    const counts = reports.filter((r) => r.kind === 'end');
    expect(counts.length).toBeGreaterThanOrEqual(5);
    expect(counts.length).toBeLessThanOrEqual(7);
    expect(counts.reduce((sum, r) => sum + (r.kind === 'end' ? r.dropped : 0), 0)).toBe(500 - passed);
    expect(limiter.dropped).toBe(500 - passed);

    // Calm for more than a second: the next flood is a new run with its own begin.
    for (let i = 0; i < 10; i++) limiter.take('flood');
    expect(reports.filter((r) => r.kind === 'begin')).toHaveLength(2);
  });

  it('reports the end of a quiet key on flush, and on forget', () => {
    let t = 0;
    const reports: RateLimitReport[] = [];
    const limiter = new RateLimiter({ rate: 1, burst: 1, now: () => t, onReport: (r) => reports.push(r) });
    limiter.take('q');
    limiter.take('q');
    limiter.flush();
    expect(reports.map((r) => r.kind)).toEqual(['begin']);
    t = 1000;
    limiter.flush();
    expect(reports[1]).toMatchObject({ kind: 'end', dropped: 1 });
    limiter.take('r');
    limiter.take('r');
    limiter.forget('r');
    expect(reports[3]).toMatchObject({ kind: 'end', key: 'r', dropped: 1 });
  });
});
