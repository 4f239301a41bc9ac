import { describe, expect, it } from 'vitest';
import { filterProblem, keyProblem } from '../src/index.js';

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