import { describe, expect, it } from 'vitest';
import { filterProblem, keyProblem, PrefixIndex } from '../src/index.js';

describe('keys', () => {
  it('accepts dotted keys of the allowed characters', () => {
    expect(keyProblem('systail.nginx.10.0.0.5')).toBeNull();
    expect(keyProblem('apptail.my-app_1:x')).toBeNull();
  });

  it('names the problem of a bad key', () => {
    expect(keyProblem('')).toBe('key is empty');
    expect(keyProblem('a..b')).toMatch(/"a\.\.b"/);
    expect(keyProblem('has space')).toMatch(/"has space"/);
    expect(keyProblem('.leading')).toMatch(/dot-separated/);
    expect(keyProblem('x'.repeat(256))).toMatch(/255 bytes/);
  });

  it('allows filters that end mid-segment or with a dot', () => {
    expect(filterProblem('systail.ngi')).toBeNull();
    expect(filterProblem('systail.')).toBeNull();
    expect(filterProblem('')).toBeNull();
    expect(filterProblem('sys tail')).toMatch(/"sys tail"/);
  });
});

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
