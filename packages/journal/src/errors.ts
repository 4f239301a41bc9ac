/** Typed errors of the journal client. Each carries the underlying `cause` when there is one. */
export class JournalError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/**
 * The journal cannot be read at all: no journalctl, a journal directory that is missing or not
 * readable, no permission for the system journal. Running again would fail the same way until
 * the user acts (exit 2).
 */
export class JournalUnavailableError extends JournalError {}

/** journalctl stopped while it was being followed (exit 1: a restart may help). */
export class JournalReadError extends JournalError {}
