import { describe, expect, it } from 'vitest';
import { DrainRates, Rates } from '../src/rates.js';

describe('Rates', () => {
  it('gives a counter per second over the last ~10 s; 0 until two readings a second apart', () => {
    let now = 1_000_000;
    const rates = new Rates(() => now);
    expect(rates.rate('sent', 0)).toBe(0);
    for (let s = 1; s <= 30; s++) {
      now += 1_000;
      rates.rate('sent', s * 50);
    }
    expect(rates.rate('sent', 30 * 50)).toBe(50);
    // The rate follows a change within the window.
    for (let s = 31; s <= 45; s++) {
      now += 1_000;
      rates.rate('sent', 1500 + (s - 30) * 5);
    }
    expect(rates.rate('sent', 1500 + 15 * 5)).toBe(5);
  });

  it('starts again when a counter goes down (a drain restarted), and forgets counters no longer read', () => {
    let now = 0;
    const rates = new Rates(() => now);
    rates.rate('a', 1000);
    now += 2_000;
    expect(rates.rate('a', 1200)).toBe(100);
    now += 1_000;
    expect(rates.rate('a', 10)).toBe(0);
    now += 1_000;
    expect(rates.rate('a', 30)).toBe(20);
    rates.sweep();
    rates.sweep();
    now += 1_000;
    expect(rates.rate('a', 1_000_000)).toBe(0);
  });

  it('gives a counter that moves after a long idle time its rate over the last ~10 s, as one read all along', () => {
    let now = 0;
    const rates = new Rates(() => now);
    for (let s = 0; s <= 60; s++, now += 1_000) expect(rates.rate('sent', 500)).toBe(0);
    expect(rates.rate('sent', 600)).toBe(10);
  });

});

describe('DrainRates', () => {
  it('reads only the drains that moved or still have a rate, and gives each its rate as if every drain were read each time', () => {
    let now = 0;
    const drainRates = new DrainRates(() => now);
    const all = new DrainRates(() => now);
    const drains: Record<string, { sent: number; dropped: Record<string, number> }> = {
      busy: { sent: 0, dropped: { buffer_full: 0 } },
      idle: { sent: 5, dropped: { buffer_full: 0 } },
    };
    const looked: string[] = [];
    const counters = (name: string) => (looked.push(name), drains[name]);
    expect(drainRates.read(Object.keys(drains), counters)).toEqual({});
    // 40 s: within the minute after which idle drains gone are looked for.
    for (let s = 1; s <= 20; s++) {
      now += 2_000;
      drains.busy.sent += 100;
      looked.length = 0;
      // Only `busy` moved: `idle` is not read.
      expect(drainRates.read(['busy'], counters)).toEqual({ busy: { out_per_s: 50, dropped_per_s: {} } });
      expect(looked).toEqual(['busy']);
      all.read(Object.keys(drains), (name) => drains[name]);
    }
    // `idle` moves after 40 s unread: its rate over the last ~10 s, as when read every time.
    now += 2_000;
    drains.idle.sent += 200;
    drains.idle.dropped.buffer_full = 40;
    const expected = all.read(Object.keys(drains), (name) => drains[name]);
    expect(drainRates.read(['idle'], counters)).toEqual(expected);
    expect(expected.idle).toEqual({ out_per_s: 20, dropped_per_s: { buffer_full: 4 } });
    // `busy` stops: read while it still has a rate, then no more.
    looked.length = 0;
    for (let s = 0; s < 10; s++) {
      now += 2_000;
      drainRates.read([], counters);
    }
    looked.length = 0;
    now += 2_000;
    expect(drainRates.read([], counters)).toEqual({});
    expect(looked).toEqual([]);
  });

  it('publishes the rates of busy drains only, and of their drop reasons above 0', () => {
    let now = 0;
    const drainRates = new DrainRates(() => now);
    const drains = (s: number): Record<string, { sent: number; dropped: Record<string, number> }> => ({
      busy: { sent: s * 10, dropped: { buffer_full: 0 } },
      dropping: { sent: 0, dropped: { buffer_full: s * 2, rate_limit: 0 } },
      idle: { sent: 7, dropped: { buffer_full: 0 } },
    });
    const at0 = drains(0);
    expect(drainRates.read(Object.keys(at0), (name) => at0[name])).toEqual({});
    now += 2_000;
    const at2 = drains(2);
    expect(drainRates.read(Object.keys(at2), (name) => at2[name])).toEqual({
      busy: { out_per_s: 10, dropped_per_s: {} },
      dropping: { out_per_s: 0, dropped_per_s: { buffer_full: 2 } },
    });
  });

  it('forgets a drain gone: at once when it had a rate, within a minute when it was idle', () => {
    let now = 0;
    const drainRates = new DrainRates(() => now);
    const drains: Record<string, { sent: number; dropped: Record<string, number> }> = { a: { sent: 0, dropped: {} }, b: { sent: 0, dropped: {} } };
    const counters = (name: string) => drains[name];
    drainRates.read(['a', 'b'], counters);
    now += 2_000;
    drains.a.sent = 100;
    expect(drainRates.read(['a'], counters)).toEqual({ a: { out_per_s: 50, dropped_per_s: {} } });
    delete drains.a;
    delete drains.b;
    now += 60_000;
    expect(drainRates.read([], counters)).toEqual({});
    // Back under the same names, counting from 0: no rate from what the old ones counted.
    drains.a = { sent: 0, dropped: {} };
    drains.b = { sent: 0, dropped: {} };
    expect(drainRates.read(['a', 'b'], counters)).toEqual({});
    now += 2_000;
    drains.b.sent = 10;
    expect(drainRates.read(['b'], counters)).toEqual({ b: { out_per_s: 5, dropped_per_s: {} } });
  });
});
