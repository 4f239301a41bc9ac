/** Typed errors of the store package. Each carries the underlying `cause` when there is one. */
export class StoreError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** The store cannot be reached, read or written (a server down, a directory not accessible). */
export class StoreUnavailableError extends StoreError {}

/** A name the store refuses (bad characters, too long, a builtin.* drain): bad input, not an outage. */
export class InvalidNameError extends StoreError {}
