/**
 * A configuration problem. `source` is where the bad value came from: the config file's path, or
 * the flag (`--store`) or environment variable (`LOGYARD_STORE`) that set it. `key` is the dotted
 * path inside the file (`systail.max_line`), absent for flags, variables and YAML syntax errors.
 * The message is `<source>: <key>: <problem>` (or `<source>: <problem>`), ready for stderr.
 */
export class ConfigError extends Error {
  readonly source: string;
  readonly key: string | undefined;
  readonly problem: string;

  constructor(source: string, key: string | undefined, problem: string, options?: { cause?: unknown }) {
    super(key === undefined ? `${source}: ${problem}` : `${source}: ${key}: ${problem}`, options);
    this.name = new.target.name;
    this.source = source;
    this.key = key;
    this.problem = problem;
  }
}
