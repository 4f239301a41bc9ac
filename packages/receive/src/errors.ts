/** Typed errors of the receivers. Each carries the underlying `cause` when there is one. */
export class ReceiveError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** A listener URI that cannot be used as written: bad usage or config (exit 2). */
export class ListenUriError extends ReceiveError {}

/**
 * A listener that could not be opened. `usage` is true when the address itself is wrong
 * (not an address of this machine, no such directory): the user must change it (exit 2);
 * false when the machine is in the way (port taken, no permission): exit 1.
 */
export class ListenError extends ReceiveError {
  constructor(
    message: string,
    readonly usage: boolean,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** Nothing to listen on: neither the config nor the flags name a listener. */
export class NoListenersError extends ReceiveError {}
