import { basename, join } from 'node:path';
import { humanTime, keySegment, Publisher } from '@logyard/bus';
import type { LogyardConfig } from '@logyard/config';
import { compilePattern, rotationGapNoticeText, Tailer, type TailerStats, type TailLogLevel, type TailSource } from '@logyard/tailer';

export interface SystailOptions {
  config: LogyardConfig;
  log?: (level: TailLogLevel, message: string) => void;
  /** Tuning for tests and benchmarks; see TailerOptions. */
  pollMs?: number;
  scanMs?: number;
  retireMs?: number;
}

export interface SystailStats extends TailerStats {
  published: number;
  sent: number;
  dropped: number;
}

/** The positions file of systail under state_dir. */
export function systailPositionsFile(stateDir: string): string {
  return join(stateDir, 'systail.positions.json');
}

/** A systail name from a file of a glob entry: its base name without .log, as a key segment. */
export function globFileName(path: string): string {
  return keySegment(basename(path).replace(/\.log$/, '')) || '_';
}

/**
 * systail: publishes each line of the configured files as `systail.<name>.<node_id>` with the
 * field `name` (docs/drains.md, keys and filters).
 */
export class Systail {
  private constructor(
    private readonly publisher: Publisher,
    private readonly tailer: Tailer,
  ) {}

  static async start(options: SystailOptions): Promise<Systail> {
    const { config } = options;
    const publisher = new Publisher({ runDir: config.runDir, nodeId: config.nodeId, maxEvent: config.maxEvent });
    const nodeId = config.nodeId;
    const sources: TailSource[] = Object.entries(config.systail.files).map(([name, path]) => {
      const glob = name.includes('*') || /[*?]/.test(path);
      return {
        pattern: compilePattern(path),
        open: (file: string) => {
          const fileName = glob ? globFileName(file) : name;
          const key = `systail.${fileName}.${nodeId}`;
          const nameMember = ',"name":' + JSON.stringify(fileName);
          // Lines go from the bytes read into the events, no string made of them; a line whose
          // event would be longer than max_event (a max_line above it) goes in pieces.
          return {
            lineBytes: (buf: Buffer, start: number, end: number) => publisher.publishLineBytes(key, buf, start, end, nameMember),
            // Lines lost to a rotation that outran the reader are told where they were missed.
            rotationGap: (after: Date, files: number | undefined) =>
              publisher.publish(key, { text: rotationGapNoticeText(file, humanTime(after.getTime() / 1000), files), name: fileName }),
          };
        },
      };
    });
    const tailer = new Tailer({
      sources,
      positionsFile: systailPositionsFile(config.stateDir),
      maxLine: config.systail.maxLine,
      ready: () => !publisher.pauseReading(),
      progress: () => publisher.stats(),
      ...(options.log ? { log: options.log } : {}),
      ...(options.pollMs ? { pollMs: options.pollMs } : {}),
      ...(options.scanMs ? { scanMs: options.scanMs } : {}),
      ...(options.retireMs ? { retireMs: options.retireMs } : {}),
    });
    await tailer.start();
    return new Systail(publisher, tailer);
  }

  stats(): SystailStats {
    const p = this.publisher.stats();
    const dropped = Object.values(p.dropped).reduce((a, b) => a + b, 0);
    const t = this.tailer.stats();
    // Lines cut at max_line, and those whose event would have been longer than max_event.
    return { ...t, split: t.split + p.tooLong, published: p.published, sent: p.sent, dropped };
  }

  /** Stops reading, hands what was read to the core (up to 5 s), saves the positions. */
  async close(): Promise<void> {
    await this.tailer.stop();
    await this.publisher.close(5000);
    await this.tailer.close();
  }
}
