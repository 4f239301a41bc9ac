import { usableNameProblem, type DrainRecord } from '@logyard/store';
import type { DrainDefinition } from './drain-set.js';
import type { Logger } from './log.js';

/**
 * The store's drain entries as this core runs them (docs/store.md: a bad entry breaks only
 * itself). One whose value cannot be used runs as a FATAL drain showing its problem. One whose name
 * cannot name a drain of the store (`/logyard/drains/a!bad`, the bare `/logyard/drains/`, a
 * builtin.* name) is not run: it is logged once, naming its key, and again only if it comes back
 * after it was removed.
 */
export class StoreDrains {
  private reported = new Set<string>();

  constructor(private readonly log: Logger) {}

  definitions(records: readonly DrainRecord[]): DrainDefinition[] {
    const definitions: DrainDefinition[] = [];
    const unusable = new Set<string>();
    for (const record of records) {
      if (usableNameProblem(record.name) === undefined) {
        definitions.push({ name: record.name, uri: record.uri, problem: record.problem, ...(record.token === undefined ? {} : { token: record.token }) });
        continue;
      }
      const problem = record.problem ?? `drain entry "${record.name}": not a drain name`;
      unusable.add(problem);
      if (!this.reported.has(problem)) this.log('WARN', `store entry ${problem}; not run as a drain`);
    }
    this.reported = unusable;
    return definitions;
  }
}
