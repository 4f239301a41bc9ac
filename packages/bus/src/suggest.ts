import { distance } from 'fastest-levenshtein';

/**
 * The names close to `word` among `candidates`, for a "did you mean X?" hint, as git does for
 * commands: the nearest by edit distance, if that distance is small for the word's length (a
 * third of it, at least 1 and at most 3), or a candidate the word is a prefix of or that starts
 * the word. Exact matches are not suggestions.
 */
export function closeNames(word: string, candidates: Iterable<string>): string[] {
  const limit = word.length <= 3 ? 1 : word.length <= 8 ? 2 : 3;
  let best = Infinity;
  let nearest: string[] = [];
  for (const candidate of new Set(candidates)) {
    if (candidate === word) continue;
    const d = distance(word, candidate);
    if (d > limit) continue;
    if (d < best) {
      best = d;
      nearest = [candidate];
    } else if (d === best) {
      nearest.push(candidate);
    }
  }
  return nearest.sort();
}

/** ` (did you mean X?)`-style hint text, or '' when nothing is close: `did you mean a or b?`. */
export function didYouMean(word: string, candidates: Iterable<string>): string {
  const close = closeNames(word, candidates);
  if (close.length === 0) return '';
  const list = close.length === 1 ? close[0] : `${close.slice(0, -1).join(', ')} or ${close[close.length - 1]}`;
  return `did you mean ${list}?`;
}
