import { basename, join } from 'node:path';
import { humanTime, keyProblem, Publisher, RateLimiter, rateLimitNoticeText, type RateLimitReport } from '@logyard/bus';
import type { AppLogFormat, LogyardConfig } from '@logyard/config';
import { compilePattern, rotationGapNoticeText, splitText, Tailer, type TailerStats, type TailHandler, type TailLogLevel, type TailSource } from '@logyard/tailer';
import { DOCKER_RECORD_MAX_BYTES, DockerLineJoiner, parseDockerLine, type DockerLine } from './docker-json.js';

export { parseDockerLine, DockerLineJoiner, type DockerLine, type DockerRecord } from './docker-json.js';

export interface ApptailOptions extends ApptailTuning {
  config: LogyardConfig;
  log?: (level: TailLogLevel, message: string) => void;
  pollMs?: number;
  scanMs?: number;
  retireMs?: number;
}

export interface ApptailStats extends TailerStats {
  instances: number;
  published: number;
  sent: number;
  /** Lines cut by the per-instance rate limit (told in-band). */
  rateLimited: number;
  /** docker-json lines that were not a JSON object with a string "log". */
  invalidJson: number;
  dropped: number;
}

export interface ApptailTuning {
  /** A docker-json line's parts that waited this long for the rest are published as they are (ms). */
  partialQuietMs?: number;
}

/** docker splits lines above 16 KiB into partial records; a line is let out at this many characters even if its end has not come. */
const MAX_JOINED = 1 << 20;
/** How long the parts of a docker-json line wait for the rest (a last line without newline). */
const PARTIAL_QUIET_MS = 2000;

export function apptailPositionsFile(stateDir: string): string {
  return join(stateDir, 'apptail.positions.json');
}

interface Instance {
  limiterKey: string;
  key: string;
  fields: { app_id: string; app_name: string; instance_index: number | string };
  files: number;
}

/**
 * apptail: publishes application instances' log lines as `apptail.<app_id>` with app_id,
 * app_name, instance_index, source and filename (docs/drains.md, keys and filters). Each instance has its own
 * token bucket (`rate`, `burst`); its drops are told in the app's own stream.
 */
export class Apptail {
  private readonly instances = new Map<string, Instance>();
  private readonly byLimiterKey = new Map<string, Instance>();
  /** docker-json: one joiner per log path, shared by the files it is rotated into. */
  private readonly joiners = new Map<string, { joiner: DockerLineJoiner; files: number }>();
  private readonly partialTimer: NodeJS.Timeout;
  private invalidJson = 0;
  /** Lines longer than max_line cut into several events after docker-json joined them. */
  private split = 0;
  private stopping = false;
  private readonly limiter: RateLimiter;
  private readonly flushTimer: NodeJS.Timeout;
  private tailer!: Tailer;

  private constructor(
    private readonly config: LogyardConfig,
    private readonly publisher: Publisher,
    private readonly log: (level: TailLogLevel, message: string) => void,
    private readonly partialQuietMs: number,
  ) {
    this.limiter = new RateLimiter({
      rate: config.apptail.rate,
      burst: config.apptail.burst,
      onReport: (r) => this.report(r),
    });
    // A quiet instance's end of drops is told within a second.
    this.flushTimer = setInterval(() => this.limiter.flush(), 1000);
    this.partialTimer = setInterval(() => {
      for (const { joiner } of this.joiners.values()) joiner.flushQuiet(this.partialQuietMs);
    }, Math.max(50, this.partialQuietMs / 4));
  }

  static async start(options: ApptailOptions): Promise<Apptail> {
    const { config } = options;
    const publisher = new Publisher({ runDir: config.runDir, nodeId: config.nodeId, maxEvent: config.maxEvent });
    const app = new Apptail(config, publisher, options.log ?? (() => {}), options.partialQuietMs ?? PARTIAL_QUIET_MS);
    const sources: TailSource[] = config.apptail.patterns.map((p) => ({
      pattern: compilePattern(p.path),
      // docker-json records are parsed whole; their text is cut at max_line after joining.
      ...(p.format === 'docker-json' ? { maxLine: Math.max(DOCKER_RECORD_MAX_BYTES, config.systail.maxLine) } : {}),
      open: (file, captures) => app.openFile(file, captures, p.format),
    }));
    app.tailer = new Tailer({
      sources,
      positionsFile: apptailPositionsFile(config.stateDir),
      maxLine: config.systail.maxLine,
      ready: () => !publisher.pauseReading(),
      progress: () => publisher.stats(),
      log: app.log,
      ...(options.pollMs ? { pollMs: options.pollMs } : {}),
      ...(options.scanMs ? { scanMs: options.scanMs } : {}),
      ...(options.retireMs ? { retireMs: options.retireMs } : {}),
    });
    await app.tailer.start();
    return app;
  }

  stats(): ApptailStats {
    const p = this.publisher.stats();
    const t = this.tailer.stats();
    return {
      ...t,
      // Lines cut at max_line, and those whose event would have been longer than max_event.
      split: t.split + this.split + p.tooLong,
      instances: this.instances.size,
      published: p.published,
      sent: p.sent,
      rateLimited: this.limiter.dropped,
      invalidJson: this.invalidJson,
      dropped: Object.values(p.dropped).reduce((a, b) => a + b, 0),
    };
  }

  async close(): Promise<void> {
    // Parts of lines still held stay unpublished: their position is not saved past them, so the
    // next start reads them again, whole.
    this.stopping = true;
    await this.tailer.stop();
    clearInterval(this.flushTimer);
    clearInterval(this.partialTimer);
    // Tell every drop count before leaving.
    for (const { key } of this.limiter.dropping()) this.limiter.forget(key);
    await this.publisher.close(5000);
    await this.tailer.close();
  }

  private openFile(file: string, captures: Record<string, string>, format: AppLogFormat): TailHandler | null {
    const appId = captures.app_id;
    const key = `apptail.${appId}`;
    const problem = keyProblem(key);
    if (problem) {
      this.log('WARN', `skipping ${file}: app_id "${appId}" does not make a valid key (${problem})`);
      return null;
    }
    const index = captures.instance_index ?? '0';
    const instanceIndex = /^\d{1,15}$/.test(index) ? Number(index) : index;
    const instanceId = `${appId}\0${index}`;
    let inst = this.instances.get(instanceId);
    if (!inst) {
      inst = {
        limiterKey: `${key}[${index}]`,
        key,
        fields: { app_id: appId, app_name: captures.app_name ?? appId, instance_index: instanceIndex },
        files: 0,
      };
      this.instances.set(instanceId, inst);
      this.byLimiterKey.set(inst.limiterKey, inst);
    }
    inst.files++;
    const instance = inst;
    const fileSource = captures.source ?? basename(file).replace(/\.log$/, '');
    const maxLine = this.config.systail.maxLine;
    /** The event's members after the stamped ones: the instance's fields, `source` and the file. */
    const membersOf = (source: string): string => ',' + JSON.stringify({ ...instance.fields, source, filename: file }).slice(1, -1);
    const publish = (text: string, source: string, unixTime?: number): void => {
      const pieces = splitText(text, maxLine);
      if (pieces.length > 1) this.split++;
      // A piece whose event would be longer than max_event goes in pieces again, each with the fields.
      const members = membersOf(source);
      for (const piece of pieces) {
        if (!this.limiter.take(instance.limiterKey)) continue;
        this.publisher.publishLine(instance.key, piece, members, unixTime);
      }
    };
    const closeInstanceFile = (): void => {
      if (--instance.files === 0) {
        this.instances.delete(instanceId);
        this.byLimiterKey.delete(instance.limiterKey);
        this.limiter.forget(instance.limiterKey);
      }
    };
    if (format === 'plain') {
      // A plain file's lines (cut at max_line by the tailer already) go from the bytes read into
      // the events, with the same members for every line.
      const members = membersOf(fileSource);
      return {
        lineBytes: (buf, start, end) => {
          if (this.limiter.take(instance.limiterKey)) this.publisher.publishLineBytes(instance.key, buf, start, end, members);
        },
        close: closeInstanceFile,
      };
    }

    let shared = this.joiners.get(file);
    if (!shared) {
      const joiner = new DockerLineJoiner((l: DockerLine) => publish(l.text, l.stream ?? fileSource, l.unixTime), MAX_JOINED);
      shared = { joiner, files: 0 };
      this.joiners.set(file, shared);
    }
    shared.files++;
    const { joiner } = shared;
    const owner = {};
    let warned = false;
    return {
      line: (text, offset) => {
        const rec = parseDockerLine(text);
        if (!rec) {
          this.invalidJson++;
          if (!warned) {
            warned = true;
            this.log('WARN', `${file}: skipping lines that are not docker json-file records (counted in invalidJson)`);
          }
          return;
        }
        joiner.record(rec, owner, offset);
      },
      heldFrom: () => joiner.heldFrom(owner),
      rotationGap: (after, files) => {
        const text = rotationGapNoticeText(file, humanTime(after.getTime() / 1000), files);
        this.publisher.publish(instance.key, { text, ...instance.fields, source: 'logyard', filename: file });
      },
      close: () => {
        if (shared && --shared.files === 0) {
          this.joiners.delete(file);
          if (!this.stopping) joiner.flushAll();
        }
        closeInstanceFile();
      },
    };
  }

  /** Rate-limit notices go into the app's own stream, so its owner sees them in his tail. */
  private report(r: RateLimitReport): void {
    const inst = this.byLimiterKey.get(r.key);
    const key = inst?.key ?? r.key.replace(/\[.*$/, '');
    const text = rateLimitNoticeText({ ...r, key: inst ? `${inst.key} instance ${inst.fields.instance_index}` : r.key });
    this.publisher.publish(key, { text, ...(inst?.fields ?? {}), source: 'logyard' });
    this.log('WARN', text);
  }
}
