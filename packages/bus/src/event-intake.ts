import { BatchBuilder, EventPrefix } from './batch-builder.js';
import { hasJsonEscapes, jsonEscapedLength, MAX_ESCAPED_PER_BYTE } from './json-bytes.js';
import { keyProblem } from './keys.js';
import { eventJson, jsonStringContent, stampedMembersNow, stampedTextTailNow, textEventJson } from './event.js';
import { fitsMaxEvent, splitJsonText } from './max-event.js';
import { humanTime, nowUnix } from './time.js';

/**
 * Why the publisher dropped events: its queue was full (the core slow or absent), the key or the
 * event was invalid, an event object was longer than max_event, or close() gave up on events the
 * core had not confirmed (the core absent, stuck or killed; some of those may have arrived
 * without the core saying so).
 */
export type PublisherDropReason = 'queue_full' | 'invalid_key' | 'invalid_event' | 'too_long' | 'unconfirmed';

export interface PublisherStats {
  published: number;
  /** Events the core confirmed it has. */
  sent: number;
  /** Events held by the publisher and not yet confirmed (waiting, or sent and awaiting confirmation). */
  queued: number;
  /** Of those, the events handed to ZeroMQ and awaiting the core's confirmation. */
  inFlight: number;
  /** Bytes of the queued events. */
  queuedBytes: number;
  /**
   * Inputs longer than max_event: text lines split into several events, and event objects refused
   * (those are in `dropped.too_long` as well).
   */
  tooLong: number;
  dropped: Record<PublisherDropReason, number>;
}

/**
 * What publishes events on a node: the Publisher (to the core over ZeroMQ), or the core's own
 * DirectPublisher for the receivers when they run inside it (receive.in_core).
 */
export interface EventPublisher {
  readonly nodeId: string;
  readonly maxEvent: number;
  publish(key: string, event: string | Record<string, unknown>): boolean;
  publishLine(key: string, text: string, members?: string, unixTime?: number): boolean;
  publishJson(key: string, json: string): boolean;
  publishPieces(prefix: EventPrefix, src: Buffer, start: number, end: number, tail: Buffer, escape?: boolean): boolean;
  /**
   * publishPieces for text that is likely plain ASCII (the usual log line), checked as it is
   * copied: null, and nothing queued or counted, when it is not (a byte of 0x80 or more, below
   * 0x20, a quote or a backslash): the caller then looks closer and calls publishPieces.
   */
  publishPlainAscii(prefix: EventPrefix, src: Buffer, start: number, end: number, tail: Buffer): boolean | null;
  publishLineBytes(key: string, src: Buffer, start: number, end: number, members?: string): boolean;
  stats(): PublisherStats;
  /** Whether a reader whose source can wait should stop reading now (the rule: PAUSE_READING_AT below). */
  pauseReading(): boolean;
  /** Whether a reader that stopped may read again (the rule: PAUSE_READING_AT below). */
  mayReadAgain(): boolean;
  close(timeoutMs?: number): Promise<void>;
}

/**
 * A client whose source can wait (a file, a socket, the journal) stops reading while more than
 * PAUSE_READING_AT of its events (or PAUSE_READING_BYTES) wait to be handed to the core, or its
 * queue is three quarters full, and reads again once at most RESUME_READING_AT (and
 * RESUME_READING_BYTES) wait and the queue is at most half full, checked every READING_POLL_MS:
 * the source keeps them, not memory, and nothing is dropped for a full queue.
 *
 * Batches sent and not yet confirmed count only towards the queue: the Publisher's window bounds
 * them. Counted as waiting, they paused a reader once per window with a quarter of it in flight,
 * and the reader and the core took turns instead of working at once (syslog over TCP through
 * `logyard receive`: 744,820 lines/s, 0.84 of rsyslogd's, against 1,011,413, 1.15, in the same
 * run). Bytes count too: 20,000 events of 4 KiB would have filled the 64 MiB queue and been dropped
 * before the reader paused.
 */
const PAUSE_READING_AT = 20_000;
const RESUME_READING_AT = 5_000;
const PAUSE_READING_BYTES = 8 * 1024 * 1024;
const RESUME_READING_BYTES = 2 * 1024 * 1024;
const PAUSE_READING_QUEUE = 0.75;
const RESUME_READING_QUEUE = 0.5;
export const READING_POLL_MS = 10;

/** How the JSON of a text event begins (textEventJson). */
const TEXT_HEAD = '{"text":"';

/**
 * What every publisher checks before it queues an event (key, event object, max_event, room),
 * and how it counts and tells what it drops; subclasses queue the events and send them on.
 */
export abstract class EventIntake implements EventPublisher {
  protected closed = false;
  protected readonly stats_: PublisherStats = {
    published: 0,
    sent: 0,
    queued: 0,
    inFlight: 0,
    queuedBytes: 0,
    tooLong: 0,
    dropped: { queue_full: 0, invalid_key: 0, invalid_event: 0, too_long: 0, unconfirmed: 0 },
  };
  /** Events dropped because the queue was full and not told yet. */
  private gap: { count: number; since: number; key: string } | null = null;
  /** The last key publish() found valid: a caller publishing under one key has it checked once. */
  private checkedKey = '';
  /** `<key> {"text":"` of the last key a text was published under (publishTextNow). */
  private textPrefix: EventPrefix | null = null;
  /** The tail of the last text published with members (textTail): the stamp and members it was made of. */
  private tailStamp = '';
  private tailMembers = '';
  private tailBytes: Buffer = Buffer.alloc(0);
  /** The last members checkMembers looked at, and its answers. */
  private checkedMembers = '';
  private membersCanonical = true;
  private membersValid = true;
  /** The source of the last publishLineBytes, and a view of it to read four bytes at a time. */
  private srcBytes: Buffer | null = null;
  private srcView: DataView<ArrayBufferLike> = new DataView(new ArrayBuffer(0));

  constructor(
    readonly nodeId: string,
    readonly maxEvent: number,
    /** Where queued events wait, already in wire batches. */
    protected readonly batches: BatchBuilder,
  ) {}

  abstract stats(): PublisherStats;
  abstract close(timeoutMs?: number): Promise<void>;

  pauseReading(): boolean {
    return this.batches.events >= PAUSE_READING_AT || this.batches.bytes >= PAUSE_READING_BYTES || this.queueFill() >= PAUSE_READING_QUEUE || this.busy();
  }

  mayReadAgain(): boolean {
    return this.batches.events <= RESUME_READING_AT && this.batches.bytes <= RESUME_READING_BYTES && this.queueFill() <= RESUME_READING_QUEUE && !this.busy();
  }

  /** How full the queue is against the nearer of its limits, 0 to 1 (full: new events are dropped). */
  protected abstract queueFill(): number;

  /**
   * Whether what takes the events is behind though the queue is short: readers should stop until
   * it is not. The Publisher's queue says it alone.
   */
  protected busy(): boolean {
    return false;
  }
  /** Whether the queue has no room for another event. */
  protected abstract full(): boolean;
  /** Called after an event was queued: the subclass sends or delivers from the event loop. */
  protected abstract wake(): void;

  /** Queues an event that passed the checks; `knownValid`: written here as JSON.stringify would (WireBatch.knownValid). */
  protected enqueue(key: string, json: string, knownValid = false): void {
    this.batches.append(key, json, knownValid);
    this.wake();
  }

  /**
   * Queues the event of a text that passed the checks (see publishTextNow) unless the text needs
   * escaping in JSON: false then, and nothing is queued.
   */
  protected enqueuePlainText(prefix: EventPrefix, text: string, tail: Buffer, tailValid: boolean): boolean {
    if (!this.batches.appendPlainText(prefix, text, tail, tailValid)) return false;
    this.wake();
    return true;
  }

  /** Queues an event given as bytes that passed the checks (see publishPieces). */
  protected enqueuePieces(prefix: EventPrefix, src: Buffer, start: number, end: number, tail: Buffer, escape: boolean, tailValid = true): void {
    this.batches.appendPieces(prefix, src, start, end, tail, escape, tailValid);
    this.wake();
  }

  /**
   * Queues one event: a text (as publishLine), or an object whose fields are kept (it must have a
   * string `text`; one longer than max_event is refused). Returns false when the event was dropped
   * (counted in `stats().dropped`).
   */
  publish(key: string, event: string | Record<string, unknown>): boolean {
    if (this.closed) return this.drop('queue_full', key);
    if (key !== this.checkedKey) {
      if (keyProblem(key)) return this.drop('invalid_key', key);
      this.checkedKey = key;
    }
    if (typeof event === 'string') return this.publishLine(key, event);
    const json = eventJson(event, this.nodeId);
    if (json === null) return this.drop('invalid_event', key);
    return this.publishJson(key, json);
  }

  /**
   * Queues a line of text as one event, or as several when its event would be longer than
   * max_event (cut between characters; counted in `stats().tooLong`). `members` are more fields
   * of the event as JSON members (`,"name":"nginx"`), `unixTime` its time when not now. The
   * caller vouches for the key.
   */
  publishLine(key: string, text: string, members = '', unixTime?: number): boolean {
    if (this.invalidMembers(members)) return this.drop('invalid_event', key);
    // NaN or Infinity is no JSON number: such a time is the caller's mistake, and now is the best guess.
    if (unixTime !== undefined && !Number.isFinite(unixTime)) unixTime = undefined;
    if (unixTime === undefined) {
      const published = this.publishTextNow(key, text, members);
      if (published !== undefined) return published;
    }
    // Written as JSON.stringify would write it, unless `members` are not (see canonicalMembers).
    const valid = this.canonicalMembers(members);
    const json = this.lineEvent(text, members, unixTime);
    if (fitsMaxEvent(json, this.maxEvent)) return this.queueJson(key, json, valid);
    this.stats_.tooLong++;
    // One time for every piece: the budget is measured on the stamped fields, and a later "now"
    // can be a digit longer (a piece over max_event by a byte, refused).
    const time = unixTime ?? nowUnix();
    const stamped = this.lineEvent(text, members, time);
    // What the event takes besides the text, then the text in pieces that fit beside it.
    const budget = this.maxEvent - (Buffer.byteLength(stamped) - Buffer.byteLength(jsonStringContent(text)));
    if (budget < 12) return this.drop('too_long', key);
    let ok = true;
    for (const piece of splitJsonText(text, budget)) ok = this.queueJson(key, this.lineEvent(piece, members, time), valid) && ok;
    return ok;
  }

  /**
   * The usual line, a text with nothing to escape stamped now: written into the batch as the
   * key's prefix, the text and the stamped tail with `members` (textEventJson's bytes, without
   * making that string). Undefined when it is longer than max_event or needs escaping (publishLine
   * makes its JSON then).
   */
  private publishTextNow(key: string, text: string, members: string): boolean | undefined {
    const prefix = this.textPrefixOf(key);
    const tail = this.textTail(members);
    const fixed = prefix.jsonBytes + tail.length;
    if (fixed + text.length * 3 > this.maxEvent && fixed + Buffer.byteLength(text) > this.maxEvent) return undefined;
    if (this.closed || this.full()) return this.drop('queue_full', key);
    if (!this.enqueuePlainText(prefix, text, tail, this.canonicalMembers(members))) return undefined;
    this.stats_.published++;
    return true;
  }

  /**
   * `<key> {"text":"`, kept for the last key. Known valid: what follows it here is the text as
   * JSON.stringify escapes it and a stamped tail (whose members are checked: canonicalMembers).
   */
  private textPrefixOf(key: string): EventPrefix {
    let prefix = this.textPrefix;
    if (prefix === null || prefix.key !== key) prefix = this.textPrefix = new EventPrefix(key, TEXT_HEAD, true);
    return prefix;
  }

  /**
   * Whether the caller's `members` (`,"name":"nginx"`) keep a text event as JSON.stringify writes
   * it: after the stamped fields they parse and are written back the same (no whitespace, no key
   * of the event's own or twice, strings escaped as JSON.stringify escapes them, no number key
   * JSON.parse would move). Checked once per distinct members string (a client passes the same).
   * Events with members that are not are published as given and go unmarked (the core checks them).
   */
  private canonicalMembers(members: string): boolean {
    if (members === '') return true;
    this.checkMembers(members);
    return this.membersCanonical;
  }

  /** Whether `members` do not make JSON of an event (`,"a":` say): such an event is refused, never sent. */
  private invalidMembers(members: string): boolean {
    if (members === '') return false;
    this.checkMembers(members);
    return !this.membersValid;
  }

  private checkMembers(members: string): void {
    if (members === this.checkedMembers) return;
    const event = '{"text":"","node_id":"","unix_time":0,"human_time":""' + members + '}';
    let parsed: unknown;
    try {
      parsed = JSON.parse(event);
    } catch {
      parsed = undefined;
    }
    this.checkedMembers = members;
    this.membersValid = parsed !== undefined;
    this.membersCanonical = this.membersValid && JSON.stringify(parsed) === event;
  }

  /**
   * The bytes after the text of an event stamped now: the closing quote, the stamped members,
   * `members` and the closing brace (the same Buffer for a millisecond).
   */
  private textTail(members: string): Buffer {
    if (members === '') return stampedTextTailNow(this.nodeId);
    const stamp = stampedMembersNow(this.nodeId);
    if (stamp !== this.tailStamp || members !== this.tailMembers) {
      this.tailStamp = stamp;
      this.tailMembers = members;
      this.tailBytes = Buffer.from('"' + stamp + members + '}');
    }
    return this.tailBytes;
  }

  /**
   * Queues the line of text `src[start, end)` as publishLine(key, text, members) queues it, from
   * its bytes: no string is made of it unless its event is longer than max_event (then it goes in
   * pieces as publishLine cuts them). The tailing clients publish a file's lines this way, from
   * the chunk they read. The bytes must be valid UTF-8 (the tailer's LineSplitter checks each
   * chunk); they are copied before this returns. The caller vouches for the key.
   */
  publishLineBytes(key: string, src: Buffer, start: number, end: number, members = ''): boolean {
    if (this.invalidMembers(members)) return this.drop('invalid_event', key);
    const prefix = this.textPrefixOf(key);
    const tail = this.textTail(members);
    if (src !== this.srcBytes) {
      this.srcBytes = src;
      this.srcView = new DataView(src.buffer, src.byteOffset, src.length);
    }
    const escape = hasJsonEscapes(this.srcView, start, end);
    const rest = prefix.jsonBytes + tail.length;
    if (rest + (end - start) * (escape ? MAX_ESCAPED_PER_BYTE : 1) > this.maxEvent && rest + (escape ? jsonEscapedLength(src, start, end) : end - start) > this.maxEvent) {
      return this.publishLine(key, src.toString('utf8', start, end), members);
    }
    if (this.closed || this.full()) return this.drop('queue_full', key);
    this.enqueuePieces(prefix, src, start, end, tail, escape, this.canonicalMembers(members));
    this.stats_.published++;
    return true;
  }

  private lineEvent(text: string, members: string, unixTime: number | undefined): string {
    const json = textEventJson(text, this.nodeId, unixTime);
    return members ? json.slice(0, -1) + members + '}' : json;
  }

  /** Queues an already serialized event. The caller vouches for its key and JSON; one longer than max_event is refused. */
  publishJson(key: string, json: string): boolean {
    return this.queueJson(key, json, false);
  }

  /** publishJson; `knownValid`: the JSON was written here as JSON.stringify would write it. */
  private queueJson(key: string, json: string, knownValid: boolean): boolean {
    if (this.closed || this.full()) return this.drop('queue_full', key);
    if (!fitsMaxEvent(json, this.maxEvent)) {
      this.stats_.tooLong++;
      return this.drop('too_long', key);
    }
    this.enqueue(key, json, knownValid);
    this.stats_.published++;
    return true;
  }

  /**
   * Queues the event whose JSON is the head of `prefix`, then the bytes `src[start, end)`, then
   * `tail`, in `prefix.key`, without making strings of them: the receivers publish a message seen
   * before from the bytes it came in. The caller vouches for the key and that the pieces make one
   * JSON object: the text bytes valid UTF-8, with `escape` when they have something to escape
   * for JSON (they are then escaped as they are copied). One longer than max_event is refused.
   * The bytes are copied before this returns.
   */
  publishPieces(prefix: EventPrefix, src: Buffer, start: number, end: number, tail: Buffer, escape = false): boolean {
    if (this.closed || this.full()) return this.drop('queue_full', prefix.key);
    const rest = prefix.jsonBytes + tail.length;
    // Escaped text is measured only when its largest size would not fit.
    if (rest + (end - start) * (escape ? MAX_ESCAPED_PER_BYTE : 1) > this.maxEvent && rest + (escape ? jsonEscapedLength(src, start, end) : end - start) > this.maxEvent) {
      this.stats_.tooLong++;
      return this.drop('too_long', prefix.key);
    }
    this.enqueuePieces(prefix, src, start, end, tail, escape);
    this.stats_.published++;
    return true;
  }

  publishPlainAscii(prefix: EventPrefix, src: Buffer, start: number, end: number, tail: Buffer): boolean | null {
    if (this.closed || this.full()) return this.drop('queue_full', prefix.key);
    if (prefix.jsonBytes + tail.length + (end - start) > this.maxEvent) {
      this.stats_.tooLong++;
      return this.drop('too_long', prefix.key);
    }
    if (!this.batches.appendPlainAscii(prefix, src, start, end, tail)) return null;
    this.wake();
    this.stats_.published++;
    return true;
  }

  protected drop(reason: PublisherDropReason, key: string): false {
    this.stats_.dropped[reason]++;
    if (reason === 'queue_full') {
      if (this.gap) this.gap.count++;
      else this.gap = { count: 1, since: nowUnix(), key };
    }
    return false;
  }

  /** The notice of the events dropped for a full queue since the last one, in their key; null when none were. */
  protected takeGapNotice(): { key: string; json: string } | null {
    const g = this.gap;
    if (g === null) return null;
    this.gap = null;
    const text = `logyard: dropped ${g.count} events since ${humanTime(g.since)} (publisher queue full)`;
    return { key: g.key, json: textEventJson(text, this.nodeId) };
  }
}
