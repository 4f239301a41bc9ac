import { compare } from './json.js';

/** Named formats as the Store API hands them out: a record by name, in name order. */
export function formatsByName(formats: ReadonlyArray<{ name: string; template: string }>): Record<string, string> {
  const byName: Record<string, string> = {};
  for (const { name, template } of [...formats].sort((a, b) => compare(a.name, b.name))) byName[name] = template;
  return byName;
}
