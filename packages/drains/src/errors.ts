/** Typed errors of the drains package. Each carries the underlying `cause` when there is one. */
export class DrainError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** A drain URI that does not follow docs/drains.md; the message names the offending part. */
export class DrainUriError extends DrainError {}

/**
 * A drain that can never work as configured (e.g. a file path outside file_drain_roots).
 * Like DrainUriError it makes the drain FATAL: retrying cannot help.
 */
export class DrainConfigError extends DrainError {}

/**
 * The target answered that it will never take these events as sent (an HTTP 4xx such as a bad
 * token or a malformed request): retrying the same request cannot help, so the drain goes FATAL
 * with this message (which names the status) instead of hammering the target.
 */
export class DrainRejectedError extends DrainError {
  constructor(
    message: string,
    /** The HTTP status the target answered, when it was HTTP. */
    readonly status?: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** A file drain's file could not be opened safely; the message names the real path. */
export class FileOpenError extends DrainError {
  constructor(
    message: string,
    /** The errno code (ELOOP for a symlink met below the root). */
    readonly code: string,
    cause?: unknown,
  ) {
    super(`${code}: ${message}`, { cause });
  }
}

/**
 * A send that failed after the target had taken the first `deliveredLines` lines of the batch
 * (a file write cut short by ENOSPC): the drain counts those as sent and re-sends only the rest.
 * The message is the cause's.
 */
export class PartialSendError extends DrainError {
  constructor(
    readonly deliveredLines: number,
    cause: Error,
  ) {
    super(cause.message, { cause });
  }
}

/**
 * A drain's disk queue could not be written or read (ENOSPC, EIO, EROFS, EACCES): the drain
 * goes on in memory and shows `disk: <message>` in its status.
 */
export class DiskQueueError extends DrainError {
  constructor(
    message: string,
    /** The errno code, when the system gave one. */
    readonly code: string | undefined,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }

  static of(err: unknown): DiskQueueError {
    if (err instanceof DiskQueueError) return err;
    const code = (err as NodeJS.ErrnoException).code;
    const message = err instanceof Error ? err.message : String(err);
    return new DiskQueueError(message, code, { cause: err });
  }
}
