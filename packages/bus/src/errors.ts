/** Typed errors of the bus package. Each carries the underlying `cause` when there is one. */
export class BusError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** A key that does not follow docs/drains.md, keys and filters. */
export class InvalidKeyError extends BusError {}

/** The core's sockets could not be reached (no core running on that run_dir). */
export class CoreUnreachableError extends BusError {}
