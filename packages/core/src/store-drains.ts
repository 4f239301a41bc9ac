import { usableNameProblem, type DrainRecord } from '@logyard/store';
import type { DrainDefinition } from './drain-set.js';
import type { Logger } from './log.js';

/**
 * The drains this core runs, by name: the config's built-in drains and the store's drain entries
 * (docs/store.md: a bad entry breaks only itself), kept up to date name by name as the store's
 * watch tells which names changed: a drain added to 1,000 costs one definition, not 1,000. One
 * whose value cannot be used runs as a FATAL drain showing its problem. One whose name cannot name
 * a drain of the store (`/logyard/drains/a!bad`, the bare `/logyard/drains/`, a builtin.* name) is
 * not run: it is logged once, naming its key, and again only if it comes back after it was removed.
 */
export class StoreDrains {
  /** What DrainSet.apply converges to. */
  readonly definitions = new Map<string, DrainDefinition>();
  /** The problem logged for each store entry not run, by name. */
  private reported = new Map<string, string>();

  constructor(
    private readonly log: Logger,
    /** The definition as run: a tenant's drain gets its tenant's prefixes (Core). */
    private readonly complete: (definition: DrainDefinition) => DrainDefinition,
  ) {}

  /** Every definition anew: the first drains, a new config's built-in drains, tenants or formats changed. */
  rebuild(records: ReadonlyMap<string, DrainRecord>, builtin: Record<string, string>): void {
    this.definitions.clear();
    for (const [name, uri] of Object.entries(builtin)) this.definitions.set(name, { name, uri, builtin: true });
    const reported = this.reported;
    this.reported = new Map();
    for (const record of records.values()) this.take(record, reported);
  }

  /** The store's entries named `names` (added, changed or deleted) taken anew. */
  update(records: ReadonlyMap<string, DrainRecord>, names: Iterable<string>): void {
    for (const name of names) {
      const record = records.get(name);
      if (record) {
        this.take(record, this.reported);
        continue;
      }
      this.reported.delete(name);
      // A store entry named as a built-in drain never replaced it, and its deletion leaves it.
      if (!this.definitions.get(name)?.builtin) this.definitions.delete(name);
    }
  }

  private take(record: DrainRecord, reported: ReadonlyMap<string, string>): void {
    const { name } = record;
    if (usableNameProblem(name) === undefined) {
      this.reported.delete(name);
      this.definitions.set(name, this.complete({ name, uri: record.uri, problem: record.problem, ...(record.token === undefined ? {} : { token: record.token }) }));
      return;
    }
    const problem = record.problem ?? `drain entry "${name}": not a drain name`;
    if (reported.get(name) !== problem) this.log('WARN', `store entry ${problem}; not run as a drain`);
    this.reported.set(name, problem);
    if (!this.definitions.get(name)?.builtin) this.definitions.delete(name);
  }
}
