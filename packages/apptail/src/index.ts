import { basename, join } from 'node:path';
import { keyProblem, Publisher, RateLimiter, rateLimitNoticeText, type RateLimitReport } from '@logyard/bus';
import type { AppLogFormat, LogyardConfig } from '@logyard/config';
import { compilePattern, Tailer, type TailerStats, type TailHandler, type TailLogLevel, type TailSource } from '@logyard/tailer';

export interface ApptailOptions {
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

const HIGH_WATER = 20_000;
/** docker splits lines above 16 KiB into partial records; joined pieces are cut at this size. */
const MAX_JOINED = 1 << 20;

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
  private invalidJson = 0;
  private readonly limiter: RateLimiter;
  private readonly flushTimer: NodeJS.Timeout;
  private tailer!: Tailer;

  private constructor(
    private readonly config: LogyardConfig,
    private readonly publisher: Publisher,
    private readonly log: (level: TailLogLevel, message: string) => void,
  ) {
    this.limiter = new RateLimiter({
      rate: config.apptail.rate,
      burst: config.apptail.burst,
      onReport: (r) => this.report(r),
    });
    // A quiet instance's end of drops is told within a second.
    this.flushTimer = setInterval(() => this.limiter.flush(), 1000);
  }

  static async start(options: ApptailOptions): Promise<Apptail> {
    const { config } = options;
    const publisher = new Publisher({ runDir: config.runDir, nodeId: config.nodeId });
    const app = new Apptail(config, publisher, options.log ?? (() => {}));
    const sources: TailSource[] = config.apptail.patterns.map((p) => ({
      pattern: compilePattern(p.path),
      open: (file, captures) => app.openFile(file, captures, p.format),
    }));
    app.tailer = new Tailer({
      sources,
      positionsFile: apptailPositionsFile(config.stateDir),
      maxLine: config.systail.maxLine,
      ready: () => publisher.stats().queued < HIGH_WATER,
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
    return {
      ...this.tailer.stats(),
      instances: this.instances.size,
      published: p.published,
      sent: p.sent,
      rateLimited: this.limiter.dropped,
      invalidJson: this.invalidJson,
      dropped: Object.values(p.dropped).reduce((a, b) => a + b, 0),
    };
  }

  async close(): Promise<void> {
    await this.tailer.stop();
    clearInterval(this.flushTimer);
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
    const publish = (text: string, source: string, unixTime?: number): void => {
      if (!this.limiter.take(instance.limiterKey)) return;
      this.publisher.publish(instance.key, {
        text,
        ...instance.fields,
        source,
        filename: file,
        ...(unixTime === undefined ? {} : { unix_time: unixTime }),
      });
    };
    let partial = '';
    let warned = false;
    const line =
      format === 'plain'
        ? (text: string) => publish(text, fileSource)
        : (text: string) => {
            const rec = parseDockerLine(text);
            if (!rec) {
              this.invalidJson++;
              if (!warned) {
                warned = true;
                this.log('WARN', `${file}: skipping lines that are not docker json-file records (counted in invalidJson)`);
              }
              return;
            }
            let log = rec.log;
            if (!log.endsWith('\n')) {
              // A partial record: docker cut a long line; the rest follows.
              partial += log;
              if (partial.length < MAX_JOINED) return;
              log = partial;
              partial = '';
            } else {
              log = partial + log.slice(0, log.endsWith('\r\n') ? -2 : -1);
              partial = '';
            }
            publish(log, rec.stream ?? fileSource, rec.unixTime);
          };
    return {
      line,
      close: () => {
        if (partial) publish(partial, fileSource);
        partial = '';
        if (--instance.files === 0) {
          this.instances.delete(instanceId);
          this.byLimiterKey.delete(instance.limiterKey);
          this.limiter.forget(instance.limiterKey);
        }
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

/** A docker json-file record, or null when the line is not one. */
export function parseDockerLine(line: string): { log: string; stream?: string; unixTime?: number } | null {
  let v: unknown;
  try {
    v = JSON.parse(line);
  } catch {
    return null;
  }
  if (typeof v !== 'object' || v === null || typeof (v as { log?: unknown }).log !== 'string') return null;
  const rec = v as { log: string; stream?: unknown; time?: unknown };
  const out: { log: string; stream?: string; unixTime?: number } = { log: rec.log };
  if (typeof rec.stream === 'string' && rec.stream !== '') out.stream = rec.stream;
  if (typeof rec.time === 'string') {
    const ms = Date.parse(rec.time);
    if (Number.isFinite(ms)) out.unixTime = ms / 1000;
  }
  return out;
}
