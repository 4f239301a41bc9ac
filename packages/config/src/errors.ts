/**
 * A configuration problem. `source` is where the bad value came from: the config file as it was
 * named, or the flag (`--store`) or environment variable (`LOGYARD_STORE`) that set it. `key` is
 * the dotted path inside the file (`systail.max_line`), absent for flags, variables and YAML
 * syntax errors; `line` is the key's line in the file, when it came from one.
 * The message is `<source>[:<line>]: [<key>: ]<problem>` (as compilers write it), ready for stderr.
 */
export class ConfigError extends Error {
  readonly source: string;
  readonly key: string | undefined;
  readonly line: number | undefined;
  readonly problem: string;

  constructor(source: string, key: string | undefined, problem: string, options?: { cause?: unknown; line?: number }) {
    const where = options?.line === undefined ? source : `${source}:${options.line}`;
    super(key === undefined ? `${where}: ${problem}` : `${where}: ${key}: ${problem}`, options);
    this.name = new.target.name;
    this.source = source;
    this.key = key;
    this.line = options?.line;
    this.problem = problem;
  }
}

/** Every problem of one config, in the order of the file; the message has one line per problem. */
export class ConfigProblemsError extends ConfigError {
  readonly problems: readonly ConfigError[];

  constructor(problems: readonly ConfigError[]) {
    const [first] = problems;
    super(first.source, first.key, first.problem, { line: first.line });
    this.message = problems.map((p) => p.message).join('\n');
    this.problems = problems;
  }
}
