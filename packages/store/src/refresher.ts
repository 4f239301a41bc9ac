/**
 * Runs `task` every `intervalMs`, never two at once, until the task returns false or stop() is
 * called; stop() waits for a run in progress. The task must not throw.
 */
export class Refresher {
  private readonly timer: NodeJS.Timeout;
  private running: Promise<void> | undefined;

  constructor(intervalMs: number, task: () => Promise<boolean>) {
    this.timer = setInterval(() => {
      this.running ??= task().then((keepGoing) => {
        this.running = undefined;
        if (!keepGoing) clearInterval(this.timer);
      });
    }, intervalMs);
    // Refreshing alone must not keep a process alive that has nothing else to do.
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.running;
  }
}

