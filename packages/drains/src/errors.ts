/** Typed errors of the drains package. Each carries the underlying `cause` when there is one. */
export class DrainError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** A drain URI that does not follow SPEC section 4; the message names the offending part. */
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
