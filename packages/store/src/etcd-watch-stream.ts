import type { Etcd3, IDuplexStream, IWatchCreateRequest, IWatchRequest, IWatchResponse } from 'etcd3';

/** Why a watch ended without its owner cancelling it. After it, the watch gets no more calls. */
export type WatchEnd = { cancelledBy: 'etcd'; reason: string } | { cancelledBy: 'stream'; error: Error };

export interface StreamWatchHandlers {
  /** etcd took the watch: changes from its start revision follow. */
  onCreated: () => void;
  onEvents: (response: IWatchResponse) => void;
  /** etcd cancelled the watch (its revision compacted, typically) or the stream broke. */
  onEnded: (end: WatchEnd) => void;
}

export interface StreamWatch {
  /** Stops the watch: no call of its handlers after this. Safe to call twice. */
  cancel(): void;
}

interface Entry {
  request: IWatchCreateRequest;
  handlers: StreamWatchHandlers;
  /** etcd's id for it, once created. */
  id?: string;
  cancelled: boolean;
}

/**
 * Every watch of a store (drains, formats, tenants) on one etcd watch stream, itself one gRPC call
 * on the store's one connection: at 1,000 nodes, 1,000 streams and connections for etcd rather than
 * 3,000 (etcd3's own watch manager shares a stream too, but throws, uncaught, "Failed to find
 * watcher for IWatchResponse" when a watch etcd cancelled after a compaction is cancelled again, or
 * stalls the watches queued behind one whose creation etcd refused).
 *
 * Watches are created one at a time (etcd answers a stream's creations in order, and the answer
 * carries only the new watch's id). A response for a watch no longer known (cancelled by its owner
 * meanwhile) is dropped. When the stream breaks, every watch on it ends with the error (its owner
 * lists again and watches anew, docs/store.md) and the next watch opens a new stream.
 */
export class WatchStream {
  private stream: IDuplexStream<IWatchRequest, IWatchResponse> | undefined;
  private opening = false;
  /** Watches whose create request is not written yet, in order. */
  private queue: Entry[] = [];
  /** The watch whose create request etcd has not answered yet. */
  private creating: Entry | undefined;
  private readonly active = new Map<string, Entry>();
  private closed = false;

  constructor(private readonly client: Etcd3) {}

  watch(request: IWatchCreateRequest, handlers: StreamWatchHandlers): StreamWatch {
    const entry: Entry = { request, handlers, cancelled: false };
    if (this.closed) {
      queueMicrotask(() => handlers.onEnded({ cancelledBy: 'stream', error: new Error('the store is closed') }));
      return { cancel: () => undefined };
    }
    this.queue.push(entry);
    this.next();
    return { cancel: () => this.cancel(entry) };
  }

  /** Ends the stream. Safe to call twice; no handler is called after it. */
  close(): void {
    this.closed = true;
    this.queue = [];
    this.creating = undefined;
    this.active.clear();
    const stream = this.stream;
    this.stream = undefined;
    stream?.cancel();
  }

  private cancel(entry: Entry): void {
    if (entry.cancelled) return;
    entry.cancelled = true;
    this.queue = this.queue.filter((e) => e !== entry);
    // One being created is cancelled once etcd says its id (see created()).
    if (entry.id === undefined || !this.active.delete(entry.id)) return;
    this.write({ cancel_request: { watch_id: entry.id } });
  }

  /** Writes the next create request, opening the stream first if there is none. */
  private next(): void {
    if (this.closed || this.creating || this.queue.length === 0) return;
    if (!this.stream) {
      this.open();
      return;
    }
    const entry = this.queue.shift()!;
    this.creating = entry;
    this.write({ create_request: entry.request });
  }

  private open(): void {
    if (this.opening) return;
    this.opening = true;
    this.client.watchClient.watch().then(
      (stream) => {
        this.opening = false;
        if (this.closed) {
          stream.on('error', () => undefined);
          stream.cancel();
          return;
        }
        this.stream = stream;
        stream.on('data', (response) => {
          if (this.stream === stream) this.receive(response);
        });
        stream.on('error', (error) => this.broken(stream, error));
        stream.on('end', () => this.broken(stream, new Error('etcd ended the watch stream')));
        this.next();
      },
      (error: unknown) => {
        this.opening = false;
        this.broken(undefined, error instanceof Error ? error : new Error(String(error)));
      },
    );
  }

  private receive(response: IWatchResponse): void {
    if (response.created) {
      this.created(response);
      return;
    }
    const entry = this.active.get(response.watch_id);
    // Not known: a watch its owner cancelled, whose last responses were on their way.
    if (!entry) return;
    if (response.canceled) {
      this.active.delete(response.watch_id);
      call(() => entry.handlers.onEnded({ cancelledBy: 'etcd', reason: cancelReason(response) }));
      return;
    }
    if (response.events.length > 0) call(() => entry.handlers.onEvents(response));
  }

  private created(response: IWatchResponse): void {
    const entry = this.creating;
    this.creating = undefined;
    if (entry && !response.canceled) {
      entry.id = response.watch_id;
      if (entry.cancelled) this.write({ cancel_request: { watch_id: response.watch_id } });
      else {
        this.active.set(entry.id, entry);
        call(() => entry.handlers.onCreated());
      }
    } else if (entry && !entry.cancelled) {
      // Refused at creation: its start revision was compacted.
      call(() => entry.handlers.onEnded({ cancelledBy: 'etcd', reason: cancelReason(response) }));
    }
    this.next();
  }

  private write(request: IWatchRequest): void {
    try {
      this.stream?.write(request);
    } catch (error) {
      // A stream that cannot be written to is broken: its 'error' follows, or this ends it.
      if (this.stream) this.broken(this.stream, error as Error);
    }
  }

  /** The stream broke (or could not open): every watch on it ends, and one waiting opens a new one. */
  private broken(stream: IDuplexStream<IWatchRequest, IWatchResponse> | undefined, error: Error): void {
    if (stream !== this.stream || this.closed) return;
    this.stream = undefined;
    stream?.cancel();
    const ended = [...(this.creating ? [this.creating] : []), ...this.active.values(), ...this.queue];
    this.creating = undefined;
    this.active.clear();
    this.queue = [];
    for (const entry of ended) if (!entry.cancelled) call(() => entry.handlers.onEnded({ cancelledBy: 'stream', error }));
  }
}

function cancelReason(response: IWatchResponse): string {
  if (response.cancel_reason) return response.cancel_reason;
  return response.compact_revision && response.compact_revision !== '0' ? `revision compacted to ${response.compact_revision}` : '';
}

/** A handler's own error is thrown on its own (as an uncaught error), not into the gRPC stream's event. */
function call(handler: () => void): void {
  try {
    handler();
  } catch (error) {
    setImmediate(() => {
      throw error;
    });
  }
}
