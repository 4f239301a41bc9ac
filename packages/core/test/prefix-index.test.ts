import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { PrefixIndex } from '../src/prefix-index.js';

describe('PrefixIndex', () => {
  it('matches byte prefixes of keys, as the documentation says', () => {
    const index = new PrefixIndex<string>();
    index.add('systail', 'all-systail');
    index.add('systail.nginx', 'nginx');
    index.add('systail.nginx.10', 'nginx-10');
    index.add('apptail', 'apps');
    expect([...index.match('systail.nginx.10.0.0.5')].sort()).toEqual(['all-systail', 'nginx', 'nginx-10']);
    expect(index.match('systail.kern.10.0.0.5')).toEqual(['all-systail']);
    expect(index.match('event.x')).toEqual([]);
  });

  it('matches every key with the empty prefix and forgets removed entries', () => {
    const index = new PrefixIndex<string>();
    index.add('', 'everything');
    index.add('a.b', 'ab');
    expect(index.match('a.b.c')).toEqual(['everything', 'ab']);
    index.remove('a.b', 'ab');
    expect(index.match('a.b.c')).toEqual(['everything']);
    index.remove('', 'everything');
    expect(index.match('a.b.c')).toEqual([]);
    expect(index.empty).toBe(true);
  });

  it('lists a value once even when several of its prefixes match', () => {
    const index = new PrefixIndex<string>();
    index.add('sys', 'd');
    index.add('systail', 'd');
    expect(index.match('systail.x')).toEqual(['d']);
  });
});

describe('PrefixIndex on whole segments (tenant drains)', () => {
  it('matches the prefix itself and keys going on with a dot, never a longer segment', () => {
    const index = new PrefixIndex<string>();
    index.add('apptail.app1', 'acme', true);
    index.add('apptail.app1', 'bytes');
    expect(index.match('apptail.app1')).toEqual(['bytes', 'acme']);
    expect(index.match('apptail.app1.web')).toEqual(['bytes', 'acme']);
    expect(index.match('apptail.app10')).toEqual(['bytes']);
    expect(index.match('apptail.app1x')).toEqual(['bytes']);
    expect(index.match('apptail.app2')).toEqual([]);
    index.remove('apptail.app1', 'acme', true);
    expect(index.match('apptail.app1.web')).toEqual(['bytes']);
    index.remove('apptail.app1', 'bytes');
    expect(index.empty).toBe(true);
  });

  it('caches a key without keeping the batch it was sliced from alive', () => {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const index = new PrefixIndex<number>();
    index.add('app.', 1);
    gc();
    const before = process.memoryUsage().heapUsed;
    // 100 batches of 1 MiB, each routed by a key sliced out of it (as the core decodes them).
    for (let i = 0; i < 100; i++) {
      const batch = `app.web.${String(i).padStart(4, '0')}.node-a` + 'x'.repeat(1 << 20);
      expect(index.match(batch.slice(0, 21))).toEqual([1]);
    }
    gc();
    // Kept as slices, the 100 cached keys held the 100 MiB of batches.
    expect((process.memoryUsage().heapUsed - before) / 2 ** 20).toBeLessThan(20);
  });
});
