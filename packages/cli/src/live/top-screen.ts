import termkit from 'terminal-kit';
import type { ClusterView } from '@logyard/store';
import { SORTS, topFrame, type TopOptions } from './top-frame.js';

type Terminal = termkit.Terminal;

const STATE_COLORS: Record<string, 'yellow' | 'red' | 'green' | 'gray'> = { RETRYING: 'yellow', FATAL: 'red', STOPPED: 'gray', STARTING: 'gray' };

/**
 * The full-screen `logyard top`, drawn with terminal-kit (its alternate screen, cursor and key
 * handling: the terminal is given back as it was on `q`, Ctrl-C or an error). Redrawn every
 * `refreshMs` from `read`; a failed read shows its error on the last line and is tried again.
 */
export class TopScreen {
  private readonly term: Terminal = termkit.terminal;
  private view: ClusterView | null = null;
  private problem = '';
  /** The filter being typed after `/`, until Enter or Escape. */
  private typing: string | null = null;
  private done!: () => void;

  constructor(
    private readonly read: () => Promise<ClusterView>,
    private readonly options: TopOptions,
    private readonly refreshMs: number,
  ) {}

  async run(): Promise<void> {
    const term = this.term;
    const finished = new Promise<void>((resolve) => (this.done = resolve));
    term.fullscreen(true);
    term.hideCursor(true);
    term.grabInput(true);
    term.on('key', (name: string) => this.key(name));
    term.on('resize', () => this.draw());
    const restore = (): void => {
      term.grabInput(false);
      term.hideCursor(false);
      term.styleReset();
      term.fullscreen(false);
    };
    process.once('SIGTERM', () => this.done());
    let timer: NodeJS.Timeout | undefined;
    try {
      const refresh = async (): Promise<void> => {
        try {
          this.view = await this.read();
          this.problem = '';
        } catch (err) {
          this.problem = (err as Error).message;
        }
        this.draw();
        timer = setTimeout(() => void refresh(), this.refreshMs);
      };
      await refresh();
      await finished;
    } finally {
      clearTimeout(timer);
      restore();
    }
  }

  private key(name: string): void {
    if (this.typing !== null) {
      if (name === 'ENTER') {
        this.options.filter = this.typing;
        this.typing = null;
      } else if (name === 'ESCAPE') {
        this.typing = null;
      } else if (name === 'BACKSPACE') {
        this.typing = this.typing.slice(0, -1);
      } else if (name === 'CTRL_C') {
        this.done();
      } else if (name.length === 1) {
        this.typing += name;
      }
      this.draw();
      return;
    }
    if (name === 'q' || name === 'CTRL_C' || name === 'ESCAPE') this.done();
    else if (name === 's') {
      this.options.sort = SORTS[(SORTS.indexOf(this.options.sort) + 1) % SORTS.length];
      this.draw();
    } else if (name === '/') {
      this.typing = this.options.filter;
      this.draw();
    }
  }

  private draw(): void {
    const term = this.term;
    const height = term.height;
    const lines = this.view ? topFrame(this.view, { ...this.options, keys: Math.max(3, height - 12 - this.drainRows()) }) : ['logyard top: reading the store...'];
    term.moveTo(1, 1);
    for (let y = 0; y < height - 1; y++) {
      term.moveTo(1, y + 1).eraseLine();
      const line = lines[y];
      if (line === undefined) continue;
      const text = line.slice(0, term.width);
      const state = / (RUNNING|RETRYING|FATAL|STOPPED|STARTING) /.exec(text)?.[1];
      const color = state && STATE_COLORS[state];
      if (y === 0) term.bold(text);
      else if (color) term[color](text);
      else term(text);
    }
    term.moveTo(1, height).eraseLine();
    if (this.typing !== null) term.bold('/')(this.typing);
    else if (this.problem) term.red(this.problem.slice(0, term.width));
  }

  private drainRows(): number {
    return this.view ? this.view.drains.reduce((n, d) => n + d.nodes.length, 0) : 0;
  }
}
