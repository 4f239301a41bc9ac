import { decodeFrame, KeyTable, type MalformedReason, type WireKey, type WireRun } from '@logyard/bus';

/** What takes the lines routed to it: a drain, a subscribers' channel. */
export interface RunSink {
  pushRun(run: WireRun): void;
}

/** What the router needs of the core: where a key goes, and the counts it keeps. */
export interface RouteBook {
  /** The sinks whose filters match `key` (asked again after `version` changed). */
  sinksFor(key: string): readonly RunSink[];
  /** Changes whenever what sinksFor answers may have changed (drains, subscriptions). */
  version(): number;
  /** `events` events of `key` were taken (key stats). */
  counted(key: string, events: number): void;
  malformed(reason: MalformedReason, count: number): void;
}

/** A key as the router keeps it (KeyTable): where its events went last, and its events in the batch under way. */
class RoutedKey implements WireKey {
  spans: Span[] = [];
  version = -1;
  inBatch = 0;
  constructor(
    readonly key: string,
    readonly keyBytes: number,
  ) {}
}

/** The lines of the batch under way that go to one sink, gathered while they follow one another. */
class Span {
  first = 0;
  count = 0;
  start = 0;
  end = -1;
  constructor(readonly sink: RunSink) {}
}

/**
 * Routes whole batches ("LY1\n" and lines): each line's key is found by its bytes (KeyTable,
 * with where it goes cached on it until the drains or subscriptions change), and the lines that
 * follow one another to the same sink are handed over as one run. The core's cost per line is so
 * nearly the same whether a batch holds one key or keys that alternate line by line (a syslog
 * stream of many programs): a drain taking a whole batch copies it at once, and key stats count
 * once per key and batch. Before this router, each run of equal keys cost a key string, a prefix
 * lookup, a stats lookup and a copy per drain; in the syslog benchmark, where every line is its
 * own run, that was most of the core's CPU.
 */
export class FrameRouter {
  private readonly keys = new KeyTable((key, keyBytes) => new RoutedKey(key, keyBytes));
  /** One span per sink, made when a key first routes to it (forgotten when routes change). */
  private spansOf = new Map<RunSink, Span>();
  private version = -1;
  /** Spans holding lines of the batch under way, and the keys seen in it. */
  private readonly open: Span[] = [];
  private readonly seen: RoutedKey[] = [];
  private readonly malformed: (reason: MalformedReason, count: number) => void;
  /** Whether the batch under way is known valid (route). */
  private knownValid = false;
  /** Events no sink took. */
  unrouted = 0;

  constructor(private readonly book: RouteBook) {
    this.malformed = (reason, count) => book.malformed(reason, count);
  }

  /**
   * Routes the batch's good lines and counts the others; returns the events taken.
   * `knownValid`: every event of the batch was written by this process's own encoder (bus
   * WireBatch.knownValid); the runs handed over say so. Never for a batch from publish.sock.
   */
  route(batch: Buffer, maxEvent: number, knownValid = false): number {
    const lines = decodeFrame(batch, this.keys, this.malformed, maxEvent);
    const { frame, count, starts, ends, keys } = lines;
    if (count === 0) return 0;
    const version = this.book.version();
    if (version !== this.version) {
      this.version = version;
      this.spansOf = new Map();
    }
    this.knownValid = knownValid;
    const open = this.open;
    for (let i = 0; i < count; i++) {
      const key = keys[i];
      if (key.version !== version) this.resolve(key, version);
      if (key.inBatch++ === 0) this.seen.push(key);
      const spans = key.spans;
      if (spans.length === 0) {
        this.unrouted++;
        continue;
      }
      const start = starts[i];
      const end = ends[i];
      for (let s = 0; s < spans.length; s++) {
        const span = spans[s];
        if (span.end === start) {
          span.count++;
          span.end = end;
          continue;
        }
        if (span.count > 0) this.hand(span, frame, ends, keys);
        else open.push(span);
        span.first = i;
        span.count = 1;
        span.start = start;
        span.end = end;
      }
    }
    for (let s = 0; s < open.length; s++) this.hand(open[s], frame, ends, keys);
    open.length = 0;
    const seen = this.seen;
    for (let k = 0; k < seen.length; k++) {
      this.book.counted(seen[k].key, seen[k].inBatch);
      seen[k].inBatch = 0;
    }
    seen.length = 0;
    return count;
  }

  private hand(span: Span, frame: Buffer, ends: Int32Array, keys: readonly WireKey[]): void {
    const run: WireRun = { frame, start: span.start, end: span.end, count: span.count, first: span.first, ends, keys, knownValid: this.knownValid };
    span.count = 0;
    span.end = -1;
    span.sink.pushRun(run);
  }

  private resolve(key: RoutedKey, version: number): void {
    const sinks = this.book.sinksFor(key.key);
    key.spans = sinks.map((sink) => {
      let span = this.spansOf.get(sink);
      if (!span) this.spansOf.set(sink, (span = new Span(sink)));
      return span;
    });
    key.version = version;
  }
}
