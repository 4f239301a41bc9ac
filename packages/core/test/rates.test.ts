import { describe, expect, it } from 'vitest';
import { Rates } from '../src/rates.js';

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
});
