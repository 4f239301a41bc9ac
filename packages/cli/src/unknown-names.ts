import { didYouMean } from '@logyard/bus';
import { runtimeError, type CliError } from './errors.js';

/**
 * `no drain named mylog; did you mean mylogs?` (exit 1): names that match nothing, each with the
 * known names close to it (docs/cli.md), for drains, formats and tenants alike.
 * `where` ends the sentence, e.g. ` in the store`.
 */
export function unknownNamesError(kind: string, unknown: readonly string[], known: Iterable<string>, where = ''): CliError {
  const candidates = [...known];
  if (unknown.length === 1) {
    const hint = didYouMean(unknown[0], candidates);
    return runtimeError(`no ${kind} named ${unknown[0]}${where}${hint ? `; ${hint}` : ''}`);
  }
  const named = unknown.map((name) => {
    const hint = didYouMean(name, candidates);
    return hint ? `${name} (${hint})` : name;
  });
  return runtimeError(`no ${kind} named ${named.join(', ')}${where}`);
}
