import { CLOSE_BRACE, decodeFrame, KeyTable, keyProblem, OPEN_BRACE, WIRE_MAGIC, type BatchLines, type EventPrefix, type FrameLines, type MalformedCounter, type WireKey, type WireRun } from '@logyard/bus';

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
  /** Lines (or a batch) refused; `sample`: the first of them, for a log line. */
  malformed: MalformedCounter;
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
  private readonly malformed: MalformedCounter;
  /** The lines of an indexed batch (see indexed): the router's own, valid until the next batch. */
  private scratch: { starts: Int32Array; ends: Int32Array; keys: RoutedKey[] } = { starts: new Int32Array(0), ends: new Int32Array(0), keys: [] };
  /** Whether the batch under way is known valid (route). */
  private knownValid = false;
  /** Events no sink took. */
  unrouted = 0;

  constructor(private readonly book: RouteBook) {
    this.malformed = (reason, count, sample) => book.malformed(reason, count, sample);
  }

  /**
   * Routes the batch's good lines and counts the others; returns the events taken.
   * `knownValid`: every event of the batch was written by this process's own encoder (bus
   * WireBatch.knownValid, or a publish.sock batch whose header says so: bus wire.ts); the runs
   * handed over say so. `checkJson`: no publisher checked its events (bus decodeFrame).
   */
  route(batch: Buffer, maxEvent: number, knownValid = false, index?: BatchLines, checkJson = false): number {
    const lines = index === undefined ? decodeFrame(batch, this.keys, this.malformed, maxEvent, checkJson) : this.indexed(batch, index, maxEvent);
    const { frame, count, starts, ends, keys } = lines;
    if (count === 0) return 0;
    const version = this.book.version();
    if (version !== this.version) {
      this.version = version;
      this.spansOf = new Map();
    }
    this.knownValid = knownValid;
    const open = this.open;
    for (let i = 0; i < count; ) {
      const key = keys[i];
      // The lines of this key that follow one another (most batches: all of them) go as one.
      let next = i + 1;
      while (next < count && keys[next] === key && starts[next] === ends[next - 1]) next++;
      const lines = next - i;
      if (key.version !== version) this.resolve(key, version);
      if (key.inBatch === 0) this.seen.push(key);
      key.inBatch += lines;
      const spans = key.spans;
      if (spans.length === 0) this.unrouted += lines;
      const start = starts[i];
      const end = ends[next - 1];
      for (let s = 0; s < spans.length; s++) {
        const span = spans[s];
        if (span.end === start) {
          span.count += lines;
          span.end = end;
          continue;
        }
        if (span.count > 0) this.hand(span, frame, ends, keys);
        else open.push(span);
        span.first = i;
        span.count = lines;
        span.start = start;
        span.end = end;
      }
      i = next;
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

  /**
   * The lines of a batch whose builder indexed them (bus WireBatch.lines), with decodeFrame's
   * checks but without reading the batch for them: each line's key is its prefix's, whose
   * RoutedKey is kept on the prefix; only that the event is an object within maxEvent is looked at.
   */
  private indexed(frame: Buffer, index: BatchLines, maxEvent: number): FrameLines<RoutedKey> {
    const count = index.count;
    if (this.scratch.starts.length < count) this.scratch = { starts: new Int32Array(count), ends: new Int32Array(count), keys: [] };
    const { starts, ends, keys } = this.scratch;
    let taken = 0;
    let badEvent = 0;
    let tooLong = 0;
    let start = WIRE_MAGIC.length;
    for (let i = 0; i < count; i++) {
      const end = index.ends[i];
      const key = this.keyOf(index.prefixes[i]);
      // A prefix whose key is not valid (its publisher vouched wrongly): read as publish.sock's are.
      if (key === null) return decodeFrame(frame, this.keys, this.malformed, maxEvent);
      const json = start + key.keyBytes + 1;
      if (end - 1 - json > maxEvent) tooLong++;
      else if (frame[json] !== OPEN_BRACE || frame[end - 2] !== CLOSE_BRACE || end - 2 <= json) badEvent++;
      else {
        starts[taken] = start;
        ends[taken] = end;
        keys[taken] = key;
        taken++;
      }
      start = end;
    }
    if (badEvent) this.malformed('bad_event', badEvent);
    if (tooLong) this.malformed('too_long', tooLong);
    return { frame, count: taken, starts, ends, keys };
  }

  /** The RoutedKey of a prefix's key, kept on the prefix for this router; null for a key that is not valid. */
  private keyOf(prefix: EventPrefix): RoutedKey | null {
    const routed = prefix.routed;
    if (routed !== null && routed.by === this) return routed.key as RoutedKey | null;
    const key = keyProblem(prefix.key) === null ? new RoutedKey(prefix.key, Buffer.byteLength(prefix.key)) : null;
    prefix.routed = { by: this, key };
    return key;
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

