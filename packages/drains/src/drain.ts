import { join } from 'node:path';
import { NOTICE_KEY, noticeJson, nowUnix, RateLimiter, rateLimitNoticeText, type RateLimitReport, type WireRun } from '@logyard/bus';
import { EventBuffer, UntoldGaps, type EventBatch, type Gap, type HeldEvents, type WireBatch } from './buffer.js';
import type { DiskSync } from './disk/queue.js';
import { checkQueue } from './disk/check.js';
import { DiskQueue } from './disk/queue.js';
import { DiskSpill, type Backlog } from './disk/spill.js';
import { DrainConfigError, DrainRejectedError, DrainUriError, PartialSendError } from './errors.js';
import { ByteTemplate } from './byte-template.js';
import { compileByteTemplate, compileFormat, type Formatter } from './formats.js';
import { dropNoticeJson } from './notices.js';
import { redactUri } from './redact.js';
import { retryDelayMs } from './retry.js';
import type { DrainSpec, OutBatch, Scheme, Transport } from './scheme.js';
import { SCHEMES } from './schemes/index.js';
import { parseDrainUri } from './uri.js';

export const DRAIN_STATES = ['STARTING', 'RUNNING', 'RETRYING', 'FATAL', 'STOPPED'] as const;
export type DrainState = (typeof DRAIN_STATES)[number];

export interface DrainStatus {
  name: string;
  /** Password shown as `***`. */
  uri: string;
  state: DrainState;
  /** Why the drain is RETRYING or FATAL. */
  error?: string;
  /** Events delivered to the target (notices not counted). */
  sent: number;
  /**
   * Events dropped, per reason (`buffer_full`; `rate_limit` on drains with `rate`; `core_stopped`
   * and `uri_changed` for events a previous run of the drain held).
   */
  dropped: Record<string, number>;
  /** Events waiting, each once: in memory or on disk. */
  buffered: number;
  /** Drains with `disk`: bytes of its queue's files, and the events in it. */
  disk_bytes?: number;
  disk_events?: number;
  /** Unix time (seconds) of the last state change. */
  since: number;
}

export interface DrainContext {
  nodeId: string;
  /** Named formats of config and store. */
  formats: Record<string, string>;
  fileDrainRoots: string[];
  /** Where drains with `disk` keep their queues (`<state_dir>/buffers`), one directory per drain name. */
  buffersDir?: string;
  /** `disk_sync`: ms between syncs of the queues, or `always`. Default 1 s. */
  diskSync?: DiskSync;
  /** Told of every change of state or error (not of counters; read those with status()). */
  onStatus?: (status: DrainStatus) => void;
  /** A tenant drain's token (`d.<uuid>`), sent with every message (docs/tenants.md). */
  drainToken?: string;
}

/** Batch limits: big enough to amortise a write, small enough that a failed send is cheap to redo. */
const MAX_BATCH_EVENTS = 1000;
/**
 * Batches written as bytes (json/raw on a stream) are bounded by half the buffer pool's block
 * (256 KiB of lines) and this many events: a few writes keep up with one large incoming batch,
 * and a drain whose send hangs holds at most that beyond its `buffer`.
 */
const MAX_BYTES_BATCH_EVENTS = 4096;
// Below V8's large-object size (~128 KiB): a larger joined string would go straight to the old
// generation and be freed only by full GCs, growing the core's RSS at high rates.
const MAX_BATCH_BYTES = 96 * 1024;
/** How long close() lets an in-flight send finish before cutting the connection. */
const CLOSE_GRACE_MS = 5_000;
/** A connection that stayed up this long counts as a success for the retry schedule, sends or not. */
const STABLE_CONNECTION_MS = 60_000;
/** How soon a key that went quiet while rate-limited gets its "dropped N" notice. */
const RATE_FLUSH_MS = 1_000;

/** held() of a drain that holds nothing: shared, never changed. */
const NOTHING_HELD: { events: number; untold: Gap[] } = Object.freeze({ events: 0, untold: Object.freeze([]) as unknown as Gap[] });

/** What a drain with a valid URI runs on. */
interface DrainPlan {
  spec: DrainSpec;
  buffer: EventBuffer;
  format: Formatter;
  scheme: Scheme;
  /** Per-key token bucket of `rate`/`burst`; null when the URI sets no rate. */
  limiter: RateLimiter | null;
  /** The disk queue behind the buffer (`disk=SIZE`); null without. */
  spill: DiskSpill | null;
  /**
   * `json` or `raw` with no frame of the scheme's around the line: what goes out is bytes the
   * buffer holds (WireBatch.out), written as they are by transports that take bytes; a template of
   * top-level fields with no frame: its ByteTemplate, run on those bytes. Null otherwise.
   */
  bytesOut: 'json' | 'raw' | ByteTemplate | null;
}

interface PumpResult {
  /** Why the connection ended; null when the drain is stopping. */
  error: Error | null;
  sentAny: boolean;
}

/**
 * Runs one drain on this node: buffers the events pushed to it and sends them to its target,
 * reconnecting on the schedule of docs/drains.md. Never throws: a bad URI or configuration
 * makes the drain FATAL, an unreachable target makes it RETRYING.
 */
export class Drain {
  readonly name: string;
  readonly uri: string;
  /** The URI as status() shows it, made once: a core of 1,000 drains asks for every status every few seconds. */
  private shownUri: string | undefined;
  /** Its drain token, when it has one (a tenant's drain). */
  readonly token: string | undefined;
  /** Key prefixes this drain wants; empty means every key (and is also what a FATAL drain has). */
  readonly filters: readonly string[];
  private readonly ctx: DrainContext;
  /** Null when the URI is bad: the drain is FATAL from the start. */
  private readonly plan: DrainPlan | null;

  /** The format its URI names (json, raw, a name or a template); undefined when the URI is bad. */
  get format(): string | undefined {
    return this.plan?.spec.format;
  }

  private state: DrainState = 'STARTING';
  private error: string | undefined;
  private since = nowUnix();
  private sent = 0;

  private loop: Promise<void> | null = null;
  private stopping = false;
  private closing: Promise<void> | null = null;
  private transport: Transport | null = null;
  /** The current connection's breakage, reported by the transport between sends. */
  private connectionError: Error | null = null;
  /** Resumes the loop while it waits for events. */
  private resumeIdle: (() => void) | null = null;
  /** Set while a wake at the end of the turn is scheduled (wakeAtEndOfTurn). */
  private wakeScheduled = false;
  /** Drops handed to a drain whose URI is unusable (it has no buffer), by reason: passed on by release(). */
  private readonly unsendable = new UntoldGaps();
  /** When close() stops waiting for the send in flight (ms since the epoch), and what ends that wait. */
  private graceEnds = Infinity;
  private graceTimer: NodeJS.Timeout | null = null;
  private endGrace: (() => void) | null = null;
  /** Ends a retry wait early (on close). */
  private cancelRetryWait: (() => void) | null = null;
  /** Tells the end of drops of keys that went quiet (rate limit); set while the drain has a limiter. */
  private rateFlushTimer: NodeJS.Timeout | null = null;

  /**
   * `problem` is set when the store entry itself could not be read (e.g. not JSON): the drain
   * is then FATAL with that message, like a drain with a bad URI.
   */
  constructor(name: string, uri: string, ctx: DrainContext, problem?: string) {
    this.name = name;
    this.uri = uri;
    this.token = ctx.drainToken;
    this.ctx = ctx;
    let plan: DrainPlan | null = null;
    try {
      if (problem) throw new DrainUriError(problem);
      const spec = parseDrainUri(uri, { formats: ctx.formats, drainName: name });
      const buffer = new EventBuffer(spec.buffer);
      const scheme = SCHEMES[spec.scheme];
      const format = scheme.output ? scheme.output(spec.format, ctx.formats, ctx.drainToken) : compileFormat(spec.format, ctx.formats);
      // Last: it opens the queue, which nothing would close if the URI turned out unusable.
      const spill = spec.diskBytes === undefined ? null : this.makeSpill(buffer, spec.buffer / 2, spec.diskBytes);
      plan = {
        spill,
        bytesOut: scheme.output !== undefined ? null : spec.format === 'json' || spec.format === 'raw' ? spec.format : compileByteTemplate(spec.format, ctx.formats),
        spec,
        buffer,
        format,
        scheme,
        limiter:
          spec.rate === undefined
            ? null
            : new RateLimiter({ rate: spec.rate, burst: spec.burst ?? 1, onReport: (report) => this.pushRateNotice(report) }),
      };
    } catch (err) {
      this.state = 'FATAL';
      this.error = messageOf(err);
    }
    this.plan = plan;
    this.filters = plan ? plan.spec.filters : [];
    const limiter = plan?.limiter;
    if (limiter) {
      this.rateFlushTimer = setInterval(() => limiter.flush(), RATE_FLUSH_MS);
      this.rateFlushTimer.unref(); // a drain nobody closes must not keep the process alive
    }
  }

  /**
   * Hot path: queues one event. Drops the oldest waiting one when the buffer is full. A closing
   * drain still queues until it is STOPPED: what it holds goes to the drain that replaces it (release()).
   */
  push(key: string, json: string): void {
    if (this.plan === null || this.state === 'STOPPED') return;
    // The limiter queues its notices itself, before the event that ends a run of drops.
    if (this.plan.limiter && !this.plan.limiter.take(key)) return;
    this.enqueue(this.plan, key, json);
  }

  /** Into memory, or with `disk` through the spill (which keeps the order of memory and disk). */
  private enqueue(plan: DrainPlan, key: string, json: string): void {
    if (plan.spill) plan.spill.push(key, json);
    else plan.buffer.push(key, json);
    this.wakeIdleLoop();
  }

  /**
   * Hot path: queues a run of consecutive events of a batch (bus WireRun) with one copy; with a
   * rate limit, each event its limiter lets through.
   */
  pushRun(run: WireRun): void {
    if (this.plan === null || this.state === 'STOPPED') return;
    const plan = this.plan;
    if (plan.limiter) {
      for (let i = 0; i < run.count; i++) if (plan.limiter.take(run.keys[run.first + i].key)) this.enqueueRun(plan, run, i, 1);
    } else {
      this.enqueueRun(plan, run, 0, run.count);
    }
    this.wakeAtEndOfTurn();
  }

  private enqueueRun(plan: DrainPlan, run: WireRun, first: number, count: number): void {
    if (plan.spill) plan.spill.pushRun(run, first, count);
    else plan.buffer.pushRun(run, first, count);
  }

  /**
   * Whether the drain is connected and half its memory buffer would wait with `coming` more
   * events: it sends slower than events come. A drain with `disk` never is (it spills), nor one
   * that is not RUNNING (its events wait for the target to come back, which holding the input up
   * would not hasten).
   */
  backedUp(coming: number): boolean {
    const plan = this.plan;
    return plan !== null && plan.spill === null && this.state === 'RUNNING' && (plan.buffer.length + coming) * 2 >= plan.buffer.capacity;
  }

  start(): void {
    if (this.plan === null || this.loop !== null || this.stopping) return;
    // A bug in the loop must cost this drain, not the whole core (an unhandled rejection would).
    this.loop = this.run(this.plan).catch((err: unknown) => this.setState('FATAL', `internal error: ${messageOf(err)}`));
  }

  status(): DrainStatus {
    const spill = this.plan?.spill;
    const status: DrainStatus = {
      name: this.name,
      uri: (this.shownUri ??= redactUri(this.uri)),
      state: this.state,
      sent: this.sent,
      dropped: { buffer_full: 0, ...(this.plan ? this.plan.buffer.droppedByReason() : countsOf(this.unsendable)) },
      buffered: spill ? spill.length : this.plan ? this.plan.buffer.length : 0,
      since: this.since,
    };
    if (spill) {
      for (const [reason, count] of Object.entries(spill.dropped())) status.dropped[reason] = (status.dropped[reason] ?? 0) + count;
      status.disk_bytes = spill.diskBytes;
      status.disk_events = spill.diskEvents;
    }
    if (this.plan?.limiter) status.dropped.rate_limit = this.plan.limiter.dropped;
    // The disk's trouble is shown beside the target's: the drain runs on in memory meanwhile.
    const diskError = spill?.diskError;
    const errors = [...(diskError ? [`disk: ${diskError}`] : []), ...(this.error !== undefined ? [this.error] : [])];
    if (errors.length > 0) status.error = errors.join('; ');
    return status;
  }

  /**
   * After close(): deletes the drain's disk queue (the drain was deleted; a changed URI keeps
   * it for the drain of the same name that follows). Returns the events it held.
   */
  async removeDiskQueue(): Promise<number> {
    await this.close();
    const spill = this.plan?.spill;
    if (!spill) return 0;
    const events = spill.diskEvents;
    await spill.remove();
    return events;
  }

  /**
   * Stops the drain: lets the send in flight finish for `graceMs`, then closes the target. A
   * second call waits for the first, and can only shorten its grace (a core stopping while a
   * restart waits on a stalled target). What was not delivered stays held: see release().
   */
  close(graceMs = CLOSE_GRACE_MS): Promise<void> {
    this.closing ??= this.stop();
    this.shortenGrace(graceMs);
    return this.closing;
  }

  private shortenGrace(ms: number): void {
    const ends = Date.now() + ms;
    if (ends >= this.graceEnds) return;
    this.graceEnds = ends;
    if (this.graceTimer) clearTimeout(this.graceTimer);
    this.graceTimer = setTimeout(() => this.endGrace?.(), ms);
  }

  /**
   * Before start(): takes over what the previous run of this drain held (release()), or drops
   * counted by the core while it was stopped. Its gaps are told first, then its events are sent
   * before newer ones. A drain with an unusable URI cannot keep events: it counts them as
   * `uri_changed` (it replaced one that could) and passes the count on to the drain after it.
   */
  adopt(held: HeldEvents): void {
    const plan = this.plan;
    if (!plan) {
      for (const gap of held.gaps) this.unsendable.add(gap);
      if (held.keys.length > 0) this.unsendable.add({ reason: 'uri_changed', count: held.keys.length, since: nowUnix() });
      return;
    }
    for (const gap of held.gaps) plan.buffer.recordGap(gap);
    for (let i = 0; i < held.keys.length; i++) this.enqueue(plan, held.keys[i], held.jsons[i]);
  }

  /** After close(): empties the drain of what it holds, for the drain that replaces it. */
  release(): HeldEvents {
    if (this.plan) return this.plan.buffer.takeAll();
    return { keys: [], jsons: [], gaps: this.unsendable.takeAll() };
  }

  /** What would be lost if the process ended now: the events waiting and the drops not told yet. */
  held(): { events: number; untold: Gap[] } {
    if (this.plan) {
      const events = this.plan.spill?.inMemory ?? this.plan.buffer.length;
      // The core asks every drain each second: one that holds nothing (most) makes no garbage.
      return events === 0 && !this.plan.buffer.hasUntold ? NOTHING_HELD : { events, untold: this.plan.buffer.untoldGaps() };
    }
    return this.unsendable.size === 0 ? NOTHING_HELD : { events: 0, untold: this.unsendable.list() };
  }

  private async stop(): Promise<void> {
    this.stopping = true;
    if (this.rateFlushTimer) clearInterval(this.rateFlushTimer);
    this.wakeIdleLoop();
    this.cancelRetryWait?.();
    if (this.loop) {
      const graceOver = new Promise<false>((resolve) => (this.endGrace = () => resolve(false)));
      const settled = await Promise.race([this.loop.then(() => true), graceOver]);
      if (this.graceTimer) clearTimeout(this.graceTimer);
      if (!settled) {
        // A target that stopped reading would hold the send forever: cutting it fails the send
        // (at once where the transport can, not after another wait for the bytes to leave).
        const transport = this.transport;
        if (transport?.cut) transport.cut();
        else await transport?.close().catch(() => undefined);
        await this.loop;
      }
    }
    // What memory holds goes to the disk queue, to be sent first when the drain runs again.
    await this.plan?.spill?.close();
    this.setState('STOPPED');
  }

  private async run(plan: DrainPlan): Promise<void> {
    if (!plan.spill) await this.dropQueueLeftBehind(plan.buffer);
    // Failed attempts since the last success, and when the first of them happened (ms).
    let failures = 0;
    let troubleSince = 0;
    let connectedBefore = false;
    const fail = (err: Error): void => {
      if (failures++ === 0) troubleSince = Date.now();
      this.setState(isFatal(err) ? 'FATAL' : 'RETRYING', messageOf(err));
    };

    while (!this.stopping && this.state !== 'FATAL') {
      if (failures > 0) {
        await this.waitBeforeRetry(retryDelayMs(troubleSince, Date.now(), failures - 1));
        if (this.stopping) break;
      }
      let transport: Transport;
      try {
        transport = await plan.scheme.connect(plan.spec, { fileDrainRoots: this.ctx.fileDrainRoots, reconnect: connectedBefore, drainToken: this.ctx.drainToken });
      } catch (err) {
        if (this.stopping) break;
        fail(toError(err));
        continue;
      }
      connectedBefore = true;
      const connectedAt = Date.now();
      this.transport = transport;
      this.connectionError = null;
      transport.onBroken((err) => {
        if (this.transport !== transport) return;
        this.connectionError = err;
        this.wakeIdleLoop();
      });
      if (!this.stopping) this.setState('RUNNING');

      const { error, sentAny } = await this.pump(plan, transport);
      if (error && !this.stopping) {
        if (sentAny || Date.now() - connectedAt >= STABLE_CONNECTION_MS) failures = 0;
        fail(error);
      }
      this.transport = null;
      await transport.close().catch(() => undefined);
    }
  }

  /** Sends batches until the connection fails or the drain stops; waits (no polling) when idle. */
  private async pump(plan: DrainPlan, transport: Transport): Promise<PumpResult> {
    const backlog: Backlog = plan.spill ?? new MemoryBacklog(plan.buffer);
    const maxEvents = Math.min(MAX_BATCH_EVENTS, transport.maxBatchEvents ?? MAX_BATCH_EVENTS);
    // Bytes in, bytes out: a json or raw drain without disk on a transport that writes bytes.
    const bytesOut = plan.spill === null && transport.sendBytes !== undefined ? plan.bytesOut : null;
    // Drops to tell wait too: a notice goes out alone when no event follows it (core_stopped).
    const waiting = (): boolean => backlog.length > 0 || plan.buffer.hasUntold;
    let sentAny = false;
    while (!this.stopping) {
      if (this.connectionError) return { error: this.connectionError, sentAny };
      if (bytesOut !== null && waiting()) {
        const error = await this.sendBytes(plan, transport, Math.min(MAX_BYTES_BATCH_EVENTS, transport.maxBatchEvents ?? MAX_BYTES_BATCH_EVENTS), bytesOut);
        if (error) return { error, sentAny };
        sentAny = true;
        continue;
      }
      const next = waiting() ? await backlog.next(maxEvents, MAX_BATCH_BYTES) : null;
      if (next === null) {
        // Something may have come while next() looked; else wait to be woken (holding no storage).
        if (!waiting() && !this.stopping && !this.connectionError) {
          plan.buffer.trim();
          await new Promise<void>((resolve) => (this.resumeIdle = resolve));
        }
        continue;
      }
      const { batch, source } = next;
      try {
        await transport.send(this.formatBatch(plan.format, batch));
      } catch (err) {
        const { delivered, rest } = splitAfterPartialSend(batch, err);
        this.sent += countEvents(delivered);
        if (delivered.length > 0) sentAny = true;
        // The delivered part leaves; the rest goes back in front, so nothing that was waiting
        // is lost (or repeated) by a failed send.
        await backlog.delivered(source, delivered.length);
        await backlog.undelivered(source, rest);
        return { error: toError(err), sentAny };
      }
      this.sent += countEvents(batch.keys);
      sentAny = true;
      await backlog.delivered(source, batch.keys.length);
    }
    return { error: null, sentAny };
  }

  /**
   * One batch as the bytes the buffer holds, or a template's output made from them
   * (plan.bytesOut); a failed send puts it back in front.
   */
  private async sendBytes(plan: DrainPlan, transport: Transport, maxEvents: number, format: 'json' | 'raw' | ByteTemplate): Promise<Error | null> {
    const template = typeof format === 'string' ? null : format;
    const batch: WireBatch = plan.buffer.takeBytes(maxEvents, format === 'json', template ? template.roomPerEvent : -1);
    const out = template ? template.format(batch) : batch.out;
    const parts = batch.gaps ? [this.noticeBytes(plan.format, batch.gaps), out] : [out];
    try {
      await transport.sendBytes!(parts);
    } catch (err) {
      // The output is not given back: the broken connection may still hold on to it.
      plan.buffer.unshiftBytes(batch);
      return toError(err);
    }
    this.sent += batch.count - batch.notices;
    EventBuffer.sent(batch);
    if (template) ByteTemplate.done(out, batch);
    return null;
  }

  /** The in-band notices of drops, as the drain's format renders them. */
  private noticeBytes(format: Formatter, gaps: Gap[]): Buffer {
    return Buffer.from(gaps.map((gap) => format(NOTICE_KEY, dropNoticeJson(this.name, this.ctx.nodeId, gap))).join(''));
  }

  /**
   * A queue this drain's name left on disk when `disk` was taken out of its URI: nothing reads
   * it any more, so its events are counted (`uri_changed`, told first) and the queue deleted.
   */
  private async dropQueueLeftBehind(buffer: EventBuffer): Promise<void> {
    const { buffersDir } = this.ctx;
    if (buffersDir === undefined) return;
    const dir = join(buffersDir, this.name);
    const left = await checkQueue(dir, false).catch(() => null);
    if (left === null) return; // none (the usual case)
    if (left.events > 0) buffer.recordGap({ reason: 'uri_changed', count: left.events, since: nowUnix() });
    await DiskQueue.remove(dir).catch(() => undefined);
  }

  private makeSpill(buffer: EventBuffer, spillAt: number, maxBytes: number): DiskSpill {
    const { buffersDir, diskSync = 1000, nodeId } = this.ctx;
    if (buffersDir === undefined) throw new DrainConfigError('param "disk": this core has no state_dir for disk buffers');
    let lastDiskError: string | null = null;
    return new DiskSpill(
      buffer,
      spillAt,
      join(buffersDir, this.name),
      { maxBytes, sync: diskSync },
      (gap) => dropNoticeJson(this.name, nodeId, gap),
      () => {
        this.wakeIdleLoop();
        const diskError = this.plan?.spill?.diskError ?? null;
        if (diskError !== lastDiskError) {
          lastDiskError = diskError;
          this.notifyStatus();
        }
      },
    );
  }

  private formatBatch(format: Formatter, batch: EventBatch): OutBatch {
    const lines: string[] = [];
    let keys = batch.keys;
    if (batch.gaps) {
      const notices = batch.gaps.map((gap) => dropNoticeJson(this.name, this.ctx.nodeId, gap));
      keys = [...notices.map(() => NOTICE_KEY), ...keys];
      for (const notice of notices) lines.push(format(NOTICE_KEY, notice));
    }
    for (let i = 0; i < batch.keys.length; i++) lines.push(format(batch.keys[i], batch.jsons[i]));
    return { keys, lines };
  }

  /**
   * The rate-limit notices of docs/drains.md, queued in the drain's own stream like any event
   * (the limiter calls this before the event that ends a run of drops is queued).
   */
  private pushRateNotice(report: RateLimitReport): void {
    if (!this.plan) return; // reports come from the plan's limiter: never
    const text = rateLimitNoticeText(report);
    const extra: Record<string, unknown> = { name: 'logyard', type: 'notice', desc: text, drain: this.name, reason: 'rate_limit', limited_key: report.key };
    if (report.kind === 'end') extra.dropped = report.dropped;
    this.enqueue(this.plan, NOTICE_KEY, noticeJson(text, this.ctx.nodeId, extra));
  }


  private waitBeforeRetry(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.cancelRetryWait = null;
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.cancelRetryWait = done;
    });
  }

  /**
   * Wakes the idle loop once the event loop's turn ends: what several incoming batches of one turn
   * bring goes out in one write (each write to a socket costs a system call and the reader's wakeup).
   */
  private wakeAtEndOfTurn(): void {
    if (this.resumeIdle === null || this.wakeScheduled) return;
    this.wakeScheduled = true;
    setImmediate(() => {
      this.wakeScheduled = false;
      this.wakeIdleLoop();
    });
  }

  private wakeIdleLoop(): void {
    const resume = this.resumeIdle;
    if (resume !== null) {
      this.resumeIdle = null;
      resume();
    }
  }

  private setState(state: DrainState, error?: string): void {
    if (state === this.state && error === this.error) return;
    if (state !== this.state) this.since = nowUnix();
    this.state = state;
    this.error = error;
    this.notifyStatus();
  }

  private notifyStatus(): void {
    const onStatus = this.ctx.onStatus;
    if (!onStatus) return;
    try {
      onStatus(this.status());
    } catch (err) {
      // A failing listener must not stop the drain, nor vanish unnoticed.
      process.emitWarning(`drain ${this.name}: onStatus listener failed: ${messageOf(err)}`);
    }
  }
}

/** A drain's buffer alone (no disk) as the pump sees it. */
class MemoryBacklog implements Backlog {
  constructor(private readonly buffer: EventBuffer) {}

  get length(): number {
    return this.buffer.length;
  }

  next(maxEvents: number, maxBytes: number): Promise<{ batch: EventBatch; source: 'memory' }> {
    return Promise.resolve({ batch: this.buffer.take(maxEvents, maxBytes), source: 'memory' });
  }

  async delivered(): Promise<void> {}

  async undelivered(_source: 'memory', rest: EventBatch): Promise<void> {
    this.buffer.unshift(rest);
  }
}

function countsOf(gaps: UntoldGaps): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const gap of gaps.list()) counts[gap.reason] = gap.count;
  return counts;
}

function isFatal(err: unknown): boolean {
  return err instanceof DrainUriError || err instanceof DrainConfigError || err instanceof DrainRejectedError;
}

/**
 * The keys of the events a failed send still delivered (PartialSendError: the first lines of
 * the batch, its drop notices first) and the batch of those left to send.
 */
function splitAfterPartialSend(batch: EventBatch, err: unknown): { delivered: string[]; rest: EventBatch } {
  const lines = err instanceof PartialSendError ? err.deliveredLines : 0;
  const notices = batch.gaps?.length ?? 0;
  if (lines === 0) return { delivered: [], rest: batch };
  if (lines < notices) return { delivered: [], rest: { ...batch, gaps: batch.gaps?.slice(lines) } };
  const events = lines - notices;
  return { delivered: batch.keys.slice(0, events), rest: { keys: batch.keys.slice(events), jsons: batch.jsons.slice(events) } };
}

/** `sent` counts events, not notices: the rate-limit notices travel in the buffer among them. */
function countEvents(keys: string[]): number {
  let count = 0;
  for (const key of keys) if (key !== NOTICE_KEY) count++;
  return count;
}

function toError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}

/** One line, for status listings. */
function messageOf(err: unknown): string {
  let message = err instanceof Error ? err.message : String(err);
  // Happy-eyeballs connects fail with an AggregateError whose own message is empty.
  if (message === '' && err instanceof AggregateError) message = err.errors.map(messageOf).join('; ');
  return message.replace(/\s*\n\s*/g, ' ');
}

