/** Typed errors of the core. Each carries the underlying `cause` when there is one. */
export class CoreError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** Another core holds this run_dir; starting would steal its sockets. */
export class CoreAlreadyRunningError extends CoreError {}
