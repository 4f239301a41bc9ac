import { describe, expect, it } from 'vitest';
import { closeNames, didYouMean } from '../src/suggest.js';

describe('did you mean', () => {
  it('suggests the nearest names by edit distance, all of them on a tie', () => {
    expect(didYouMean('mylog', ['mylogs', 'other'])).toBe('did you mean mylogs?');
    expect(didYouMean('shrot', ['short', 'json', 'raw'])).toBe('did you mean short?');
    expect(didYouMean('web1', ['web2', 'web3', 'db'])).toBe('did you mean web2 or web3?');
    expect(closeNames('stauts', ['status', 'store'])).toEqual(['status']);
  });

  it('suggests nothing far away, for short words only a one-letter change, and never the word itself', () => {
    expect(didYouMean('nginx', ['postgres', 'kern'])).toBe('');
    expect(didYouMean('ab', ['xy', 'ac'])).toBe('did you mean ac?');
    expect(didYouMean('ab', ['ba'])).toBe('');
    expect(didYouMean('same', ['same'])).toBe('');
  });
});
