import { isUtf8 } from 'node:buffer';
import { EventPrefix, jsonStringContent, MAX_ESCAPED_PER_BYTE, stampedMembersNow, type EventPublisher, type RateLimiter } from '@logyard/bus';
import { datagramMessageStart, type FramePiece, type FrameProblem, type FrameSink } from './framing.js';
import { SyslogHeaderCache } from './header-cache.js';
import { isSyslogProblem, parseSyslog, type SyslogMalformedReason } from './syslog.js';
import { syslogFieldJson, syslogKey } from './syslog-event.js';
import { cutJsonStringContent, plainTextEnd, textBytesEnd } from './text-bytes.js';

export interface SyslogInputOptions {
  publisher: EventPublisher;
  limiter: RateLimiter;
  /** The largest event in bytes (config max_event). */
  maxEvent: number;
  /** Counts (and logs) a message that was refused. */
  malformed(reason: SyslogMalformedReason | FrameProblem, uri: string, detail: string): void;
}

/** A listener's label, which becomes the bound address once the system chose a port. */
export interface Where {
  uri: string;
}

/** What the messages of one header publish: key, and the event JSON after the text. */
interface HeaderEvent {
  key: string;
  /** `<key> {"text":"`: what comes before the text of an event published from bytes. */
  prefix: EventPrefix;
  /** `,"syslog":{...}}`: the end of the event JSON. */
  fieldJson: string;
  /** The stamped members this header's `tail` was made with. */
  stamp: string;
  /** Everything of the event JSON after the text: its closing quote, stamped members and fieldJson. */
  tail: string;
  /** `tail` as bytes. */
  tailBytes: Buffer;
}

const MAX_CACHED_KEYS = 10_000;
/** What an event JSON has before the text. */
const TEXT_HEAD = '{"text":"';
const TEXT_HEAD_BYTES = TEXT_HEAD.length;
const NO_BYTES = Buffer.alloc(0);

/**
 * The syslog side of `logyard receive`: messages (datagrams, frames of stream connections) to
 * events `syslog.<app-name or tag>`. A message whose header was seen before and whose text has
 * nothing to escape goes out as bytes: the text is copied from the socket's chunk into the
 * publisher's batch, between bytes kept per header; no string is made. A message whose event
 * would be longer than max_event goes out as several events with the same key and `syslog` field.
 */
export class SyslogInput {
  /** Messages taken in, malformed ones included. */
  received = 0;
  /** Messages longer than max_event published as several events (counted as too_long). */
  split = 0;
  private readonly headers = new SyslogHeaderCache<HeaderEvent>();
  private readonly keyOfApp = new Map<string | null, string>();
  private readonly nodeId: string;
  /** When the messages being read arrived (the limiter's clock, ms) and their stamped members: read once per chunk or datagram. */
  private arrived = 0;
  private stamp = '';

  constructor(private readonly options: SyslogInputOptions) {
    this.nodeId = options.publisher.nodeId;
  }

  /** Options for the stream decoder: a longer message comes in pieces that leave room for the event's other members. */
  framing(): { octetCounting: true; nulTerminates: true; maxFrameBytes: number; splitBytes: number } {
    const max = this.options.maxEvent;
    return { octetCounting: true, nulTerminates: true, maxFrameBytes: max, splitBytes: max - Math.min(4096, max >> 2) };
  }

  /** One datagram: one message, octet-counted or not (RFC 5426). */
  datagram(buf: Buffer, where: Where): void {
    this.arrive();
    this.message(buf, datagramMessageStart(buf), buf.length, where.uri, false);
  }

  /** Where the frames of one stream connection go: it follows the pieces of a message that is split. */
  connection(where: Where): FrameSink {
    // The header event of the message whose pieces are coming; null when it was refused.
    let continuing: HeaderEvent | null = null;
    return {
      begin: () => this.arrive(),
      frame: (buf: Buffer, start: number, end: number, piece: FramePiece) => {
        if (piece === 'whole') {
          this.message(buf, start, end, where.uri, false);
        } else if (piece === 'first') {
          this.split++;
          continuing = this.message(buf, start, end, where.uri, true);
        } else {
          if (continuing && end > start) this.publish(continuing, textContent(buf, start, end), where.uri, true);
          if (piece === 'last') continuing = null;
        }
      },
      problem: (reason: FrameProblem) => this.options.malformed(reason, where.uri, frameDetail(reason, this.options.maxEvent)),
    };
  }

  /**
   * Publishes the message in `buf[start, end)`; returns its header event, null when it was
   * refused. A message seen before goes from its bytes; anything else takes the string path.
   */
  private message(buf: Buffer, start: number, end: number, uri: string, counted: boolean): HeaderEvent | null {
    const known = this.headers.getBytes(buf, start, end);
    if (!known) return this.parsed(buf.toString('utf8', start, end), uri, counted);
    const textStart = this.headers.textStart;
    const textEnd = textBytesEnd(buf, textStart, end);
    this.stamped(known);
    if (TEXT_HEAD_BYTES + (textEnd - textStart) + known.tailBytes.length > this.options.maxEvent) return this.unplain(known, buf, start, end, uri, counted, false);
    // The usual line: plain ASCII text, checked as the publisher copies it into the batch.
    if (!this.options.limiter.take(known.key, this.arrived)) {
      this.received++;
      return known;
    }
    if (this.options.publisher.publishPlainAscii(known.prefix, buf, textStart, textEnd, known.tailBytes) === null) return this.unplain(known, buf, start, end, uri, counted, true);
    this.received++;
    return known;
  }

  /**
   * The message of a known header in `buf[start, end)` whose text is not plain ASCII or may be too
   * long: escaped as copied when it is valid UTF-8, else the string path. `taken`: the limiter let
   * it pass already.
   */
  private unplain(known: HeaderEvent, buf: Buffer, start: number, end: number, uri: string, counted: boolean, taken: boolean): HeaderEvent | null {
    const textStart = this.headers.textStart;
    let textEnd = plainTextEnd(buf, textStart, end);
    const escape = textEnd < 0;
    if (escape) {
      // Quotes, backslashes or control bytes (an nginx access log has quotes): escaped as copied,
      // when the text is valid UTF-8 (decoding replaces what is not: the string path).
      textEnd = textBytesEnd(buf, textStart, end);
      if (!isUtf8(buf.subarray(textStart, textEnd))) return this.parsed(buf.toString('utf8', start, end), uri, counted, taken);
    }
    this.received++;
    // Most events fit at once (escaped text counted at its largest); a longer one takes the string path, which splits it.
    if (TEXT_HEAD_BYTES + (textEnd - textStart) * (escape ? MAX_ESCAPED_PER_BYTE : 1) + known.tailBytes.length <= this.options.maxEvent) {
      if (taken || this.options.limiter.take(known.key, this.arrived)) this.options.publisher.publishPieces(known.prefix, buf, textStart, textEnd, known.tailBytes, escape);
      return known;
    }
    return this.publish(known, jsonStringContent(buf.toString('utf8', textStart, textEnd)), uri, counted, taken) ? known : null;
  }

  private parsed(line: string, uri: string, counted: boolean, taken = false): HeaderEvent | null {
    // An empty datagram is no message (the stream decoder already skips blank lines).
    if (line.length <= 2 && /^[\r\n\0]*$/.test(line)) return null;
    this.received++;
    let known = this.headers.get(line);
    let text: string;
    if (known) {
      text = this.headers.text(line);
    } else {
      const m = parseSyslog(line);
      if (isSyslogProblem(m)) {
        this.options.malformed(m.malformed, uri, m.detail);
        return null;
      }
      const key = this.keyOf(m.appname);
      // knownValid: every event of this prefix is written here as JSON.stringify would write it
      // (the text escaped by the publisher or by jsonStringContent, the stamp and syslogFieldJson).
      known = { key, prefix: new EventPrefix(key, TEXT_HEAD, true), fieldJson: ',"syslog":' + syslogFieldJson(m) + '}', stamp: '', tail: '', tailBytes: NO_BYTES };
      this.headers.set(line, m, known);
      text = m.text;
    }
    return this.publish(known, jsonStringContent(text), uri, counted, taken) ? known : null;
  }

  /**
   * `content`: the text as it stands between the quotes of its JSON string. The event is joined
   * from pieces (text, then stamp and syslog field, kept per header for the millisecond): no
   * piece is copied here; the publisher's batch copies each once. `counted`: the message is
   * already counted as split; `taken`: the limiter let it pass already. False when the header
   * alone does not fit in max_event.
   */
  private publish(known: HeaderEvent, content: string, uri: string, counted: boolean, taken = false): boolean {
    this.stamped(known);
    const max = this.options.maxEvent;
    // UTF-16 length times 3 bounds the UTF-8 bytes: most events are measured without counting.
    if ((content.length + known.tail.length) * 3 + TEXT_HEAD_BYTES > max) {
      const room = max - TEXT_HEAD_BYTES - Buffer.byteLength(known.tail);
      if (room < 6) {
        this.options.malformed('too_long', uri, `a message whose header and fields alone are longer than max_event (${max} bytes)`);
        return false;
      }
      if (Buffer.byteLength(content) > room) {
        if (!counted) this.split++;
        if (!taken && !this.options.limiter.take(known.key, this.arrived)) return true;
        for (const piece of cutJsonStringContent(content, room)) this.publishContent(known, piece);
        return true;
      }
    }
    if (taken || this.options.limiter.take(known.key, this.arrived)) this.publishContent(known, content);
    return true;
  }

  /**
   * One event of the string path, from the bytes of its text's JSON string content: as pieces
   * of the header's prefix, so that its batch stays known valid (EventPrefix), as the events of
   * the bytes path are.
   */
  private publishContent(known: HeaderEvent, content: string): void {
    const bytes = Buffer.from(content);
    this.options.publisher.publishPieces(known.prefix, bytes, 0, bytes.length, known.tailBytes);
  }

  /** The header's tail for events stamped now: made again, as string and bytes, when the millisecond changed. */
  /** The messages of a chunk or datagram arrived now: one reading of the clock for all of them (it was two per message). */
  private arrive(): void {
    this.arrived = this.options.limiter.time();
    this.stamp = stampedMembersNow(this.nodeId);
  }

  private stamped(known: HeaderEvent): string {
    const stamp = this.stamp;
    if (known.stamp !== stamp) {
      known.stamp = stamp;
      known.tail = '"' + stamp + known.fieldJson;
      known.tailBytes = Buffer.from(known.tail);
    }
    return known.tail;
  }

  private keyOf(appname: string | null): string {
    let key = this.keyOfApp.get(appname);
    if (key === undefined) {
      if (this.keyOfApp.size >= MAX_CACHED_KEYS) this.keyOfApp.clear();
      key = syslogKey(appname);
      this.keyOfApp.set(appname, key);
    }
    return key;
  }
}

/** The bytes of a piece as JSON string content, kept whole (framing leftovers are only trimmed off messages). */
function textContent(buf: Buffer, start: number, end: number): string {
  return plainTextEnd(buf, start, end) === end ? buf.toString('utf8', start, end) : jsonStringContent(buf.toString('utf8', start, end));
}

export function frameDetail(reason: FrameProblem, maxEvent: number): string {
  switch (reason) {
    case 'too_long':
      return `a message longer than max_event (${maxEvent} bytes)`;
    case 'bad_frame':
      return 'an octet-counted frame of length 0';
    case 'truncated_frame':
      return 'the connection closed in the middle of an octet-counted frame';
  }
}
