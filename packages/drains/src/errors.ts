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
