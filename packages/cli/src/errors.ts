/** Exit codes of docs/cli.md. */
export const EXIT_OK = 0;
export const EXIT_RUNTIME = 1;
export const EXIT_USAGE = 2;

/** An error the user caused or must act on: printed as one line, no stack trace. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'CliError';
  }
}

export const usageError = (message: string): CliError => new CliError(message, EXIT_USAGE);
export const runtimeError = (message: string, cause?: unknown): CliError => new CliError(message, EXIT_RUNTIME, { cause });
