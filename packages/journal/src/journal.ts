import { eventJson, Publisher, RateLimiter, rateLimitNoticeText, READING_POLL_MS, WarningLimit, type RateLimitReport } from '@logyard/bus';
import type { LogyardConfig } from '@logyard/config';
import { CursorFile, journalCursorFile } from './cursor.js';
import { parseEntryLine } from './entry.js';
import type { JournalError } from './errors.js';
import { entryEvent, type JournalEvent } from './event.js';
import { describeSource, JournalctlFollower, probeJournal, type JournalSource } from './journalctl.js';
import { PartialLines } from './partials.js';
import { unitFilter, type UnitFilter } from './units.js';

export type JournalLogLevel = 'INFO' | 'WARN' | 'ERROR';

export interface JournalOptions {
  config: LogyardConfig;
  log?: (level: JournalLogLevel, message: string) => void;
  /** Without a saved cursor, read the whole journal instead of starting at its end (benchmarks, tests). */
  fromStart?: boolean;
}

export interface JournalStats {
  /** `system` or the journal directory. */
  journal: string;
  /** Entries read from journalctl. */
  read: number;
  /** Entries of units not in `journal.units`. */
  filtered: number;
  /** Entries cut by the per-unit (per-container) rate limit, told in-band. */
  rateLimited: number;
  /** Entries whose event would be larger than max_event, skipped. */
  tooLong: number;
  /** Lines of journalctl that were not an entry. */
  invalid: number;
  published: number;
  sent: number;
  /**
   * Events the publisher dropped (queue full, invalid). Events left unconfirmed when the client
   * stops are not among them: the cursor stays before them, so they are read again.
   */
  dropped: number;
}

/** How often the confirmed cursor is saved and quiet keys' drop counts are told. */
const TICK_MS = 1000;

/** Where reading stood: every entry up to `cursor` is in the core once it has confirmed `mark` events. */
interface Checkpoint {
  mark: number;
  cursor: string;
}

/**
 * The journal client (docs/clients.md, journal): follows the systemd journal with journalctl and
 * publishes each entry as `journal.<container, unit or identifier>`, with a token bucket per
 * stream so that one noisy unit or container only loses its own entries (told in its stream).
 * The cursor is saved once the core has confirmed the entries before it, so a restart or a crash
 * of the client neither loses nor repeats entries (after kill -9: at most the last second's repeat).
 */
export class Journal {
  /** Resolves with the error when journalctl stops on its own; the client is of no use then. */
  readonly failed: Promise<JournalError>;
  private fail!: (err: JournalError) => void;
  private readonly limiter: RateLimiter;
  private readonly filter: UnitFilter;
  /** max_event: an entry whose event would be larger is skipped and counted as tooLong (docs/configuration.md). */
  private readonly maxEvent: number;
  private follower: JournalctlFollower | null = null;
  private readonly checkpoints: Checkpoint[] = [];
  private readonly partials = new PartialLines();
  /** The cursor of the last entry handled (published, filtered or cut). */
  private lastCursor: string | null = null;
  private readonly counts = { read: 0, filtered: 0, tooLong: 0, invalid: 0 };
  private readonly problemWarnings = new WarningLimit();
  private readonly ticker: NodeJS.Timeout;
  private readyTimer: NodeJS.Timeout | null = null;
  private closing: Promise<void> | null = null;

  private constructor(
    config: LogyardConfig,
    private readonly directory: JournalSource,
    private readonly cursorFile: CursorFile,
    private readonly publisher: Publisher,
    private readonly log: (level: JournalLogLevel, message: string) => void,
  ) {
    this.failed = new Promise((resolve) => (this.fail = resolve));
    this.filter = unitFilter(config.journal.units);
    this.maxEvent = config.maxEvent;
    this.limiter = new RateLimiter({ rate: config.journal.rate, burst: config.journal.burst, onReport: (r) => this.report(r) });
    this.ticker = setInterval(() => this.tick(), TICK_MS);
  }

  /**
   * Checks that the journal can be read (JournalUnavailableError when not: no journalctl, an
   * unreadable directory) and starts following it after the saved cursor, or from its end.
   */
  static async start(options: JournalOptions): Promise<Journal> {
    const { config } = options;
    const log = options.log ?? (() => {});
    const directory = config.journal.directory;
    const cursorFile = new CursorFile(journalCursorFile(config.stateDir), directory ?? 'system');
    const saved = cursorFile.load();
    if (saved.problem) log('WARN', `${saved.problem}; reading from the end of the journal`);
    const probe = await probeJournal(directory);
    for (const w of probe.warnings) log('WARN', `journalctl: ${w}`);
    let after = saved.cursor;
    if (after === null && options.fromStart) {
      log('INFO', `no saved cursor: reading ${describeSource(directory)} from its start`);
    } else if (after === null) {
      // The first start reads from the end. Its cursor is saved at once: entries written before
      // the first one arrives must not be skipped by a restart in between.
      after = probe.lastCursor;
      if (after !== null) cursorFile.save(after);
      log('INFO', `first start on ${describeSource(directory)}: reading from its end`);
    }
    const publisher = new Publisher({ runDir: config.runDir, nodeId: config.nodeId, maxEvent: config.maxEvent });
    const journal = new Journal(config, directory, cursorFile, publisher, log);
    journal.lastCursor = after;
    journal.follower = new JournalctlFollower({
      directory,
      after,
      lines: (lines) => journal.entries(lines),
      tooLong: () => journal.problem('tooLong', 'skipping a journal entry longer than an event may be (counted in tooLong)'),
      warn: (message) => log('WARN', message),
      ended: (err) => journal.fail(err),
    });
    log('INFO', `following ${describeSource(directory)}${saved.cursor ? ' from the saved cursor' : ''}`);
    return journal;
  }

  stats(): JournalStats {
    const p = this.publisher.stats();
    return {
      journal: this.directory ?? 'system',
      ...this.counts,
      rateLimited: this.limiter.dropped,
      published: p.published,
      sent: p.sent,
      dropped: p.dropped.queue_full + p.dropped.invalid_key + p.dropped.invalid_event,
    };
  }

  /**
   * Stops journalctl, tells pending drop counts, hands what is queued to the core (up to 5 s) and
   * saves the cursor of what it confirmed. Safe to call twice.
   */
  close(): Promise<void> {
    this.closing ??= (async () => {
      await this.follower?.stop();
      clearInterval(this.ticker);
      if (this.readyTimer) clearInterval(this.readyTimer);
      // Lines whose last piece has not come yet go out as far as they came.
      for (const event of this.partials.takeAll()) this.publish(event);
      for (const { key } of this.limiter.dropping()) this.limiter.forget(key);
      await this.publisher.close(5000);
      if (this.publisher.stats().dropped.unconfirmed === 0) {
        if (this.lastCursor !== null) this.saveCursor(this.lastCursor);
      } else {
        this.saveConfirmed();
      }
    })();
    return this.closing;
  }

  private entries(lines: string[]): void {
    for (const line of lines) {
      const entry = parseEntryLine(line);
      if (!entry) {
        this.problem('invalid', `skipping a line of journalctl that is not a journal entry: ${line.slice(0, 200)}`);
        continue;
      }
      this.counts.read++;
      this.lastCursor = entry.__CURSOR as string;
      const event = entryEvent(entry);
      if (this.filter && !this.filter(event.stream, event.unit)) {
        this.counts.filtered++;
        continue;
      }
      const partial = entry.CONTAINER_PARTIAL_MESSAGE === 'true' && event.fields.text_encoding === undefined;
      const whole = this.partials.join(event, partial);
      if (whole) this.publish(whole);
    }
    // A cursor inside a line being joined would lose its first pieces on a restart.
    if (this.lastCursor !== null && !this.partials.joining) this.checkpoints.push({ mark: this.publisher.stats().published, cursor: this.lastCursor });
    if (this.publisher.pauseReading()) this.pauseUntilReady();
  }

  private publish(event: JournalEvent): void {
    if (!this.limiter.take(event.key)) return;
    const json = eventJson(event.fields, this.publisher.nodeId)!;
    // A string's UTF-8 is at most 3 bytes per UTF-16 unit: most events need no byte count.
    if (json.length > this.maxEvent / 3 && Buffer.byteLength(json) > this.maxEvent) {
      this.problem('tooLong', `skipping an entry of ${event.key} of ${Buffer.byteLength(json)} bytes, larger than max_event (${this.maxEvent}; counted in tooLong)`);
      return;
    }
    this.publisher.publishJson(event.key, json);
  }

  /** Journal entries wait in the journal, not in memory, while the core is slow or absent. */
  private pauseUntilReady(): void {
    if (this.readyTimer || this.closing) return;
    this.follower?.pause();
    this.readyTimer = setInterval(() => {
      if (!this.publisher.mayReadAgain()) return;
      if (this.readyTimer) clearInterval(this.readyTimer);
      this.readyTimer = null;
      this.follower?.resume();
    }, READING_POLL_MS);
  }

  private tick(): void {
    this.limiter.flush();
    this.saveConfirmed();
  }

  /** Saves the cursor of the last entry whose events (and those before) the core has confirmed. */
  private saveConfirmed(): void {
    const { sent } = this.publisher.stats();
    let cursor: string | null = null;
    while (this.checkpoints.length > 0 && this.checkpoints[0].mark <= sent) cursor = this.checkpoints.shift()!.cursor;
    if (cursor !== null) this.saveCursor(cursor);
  }

  private saveCursor(cursor: string): void {
    try {
      this.cursorFile.save(cursor);
    } catch (err) {
      this.problem('cursor', `cannot save the cursor in ${this.cursorFile.file}: ${(err as Error).message}`);
    }
  }

  /** Counts a problem (when it has a counter) and logs it at most once a minute. */
  private problem(kind: 'tooLong' | 'invalid' | 'cursor', message: string): void {
    if (kind !== 'cursor') this.counts[kind]++;
    if (!this.problemWarnings.take(kind)) return;
    this.log('WARN', `${message}${kind === 'cursor' ? '' : '; logged at most once a minute'}`);
  }

  /** Rate-limit notices go into the flooding unit's (container's) own stream, where its readers look. */
  private report(r: RateLimitReport): void {
    const text = rateLimitNoticeText(r);
    this.publisher.publish(r.key, { text });
    this.log('WARN', text);
  }
}
