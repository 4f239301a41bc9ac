/**
 * Remembers the first error that broke a connection and tells the listener, even when the
 * listener registers after the fact.
 */
export class BrokenSignal {
  private listener: ((err: Error) => void) | null = null;
  private firstError: Error | null = null;

  get error(): Error | null {
    return this.firstError;
  }

  fire(err: Error): void {
    if (this.firstError) return;
    this.firstError = err;
    this.listener?.(err);
  }

  listen(cb: (err: Error) => void): void {
    this.listener = cb;
    if (this.firstError) cb(this.firstError);
  }
}
