/** Typed errors of the bus package. Each carries the underlying `cause` when there is one. */
export class BusError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

