import { Channel, connectivityState, type ChannelCredentials, type ChannelInterface, type ChannelOptions } from '@grpc/grpc-js';
import { Etcd3, type IOptions } from 'etcd3';
import { HOST_OPEN_MS } from './etcd-client.js';

/** For this long after etcd came back, waits between attempts are no longer than the breaker's open time. */
const RECONNECTED_MS = 5_000;

/**
 * A store's one connection to etcd: one etcd3 client for everything the store does (its requests,
 * its lease and keepalive, the watch stream of its drains, formats and tenants, node counting), and
 * under it one gRPC channel per etcd member for all of etcd's services. etcd3 alone would open a
 * channel per service (KV, Lease, Watch), and close them all whenever one request fails with a
 * recoverable error (a timed-out status write would cut the watches and the lease's keepalive);
 * here the services' channels are views of the one channel, which gRPC itself reconnects, and
 * which only close() closes.
 */
export class EtcdConnection {
  readonly client: Etcd3;
  private readonly channels = new Map<string, Channel>();
  private closed = false;
  /** Those in pause(), woken together when a channel connects. */
  private readonly waiting = new Set<() => void>();
  private watching = false;
  /** When a channel last connected while someone waited. */
  private connectedAt = 0;

  constructor(options: IOptions) {
    this.client = new Etcd3({
      ...options,
      grpcOptions: { ...options.grpcOptions, channelFactoryOverride: (target: string, credentials: ChannelCredentials, channelOptions: ChannelOptions) => this.channel(target, credentials, channelOptions) },
    });
  }

  /**
   * Waits `ms`, or less when a channel that was not connected connects meanwhile (etcd back after
   * an outage; one that stays connected does not end the wait). What waits between attempts while
   * etcd is away (a watch to list again, a lease to take anew) waits with this, so that a thousand
   * nodes come back as soon as etcd does, not up to a backoff later.
   */
  async pause(ms: number): Promise<void> {
    if (this.closed) return;
    // Just after etcd came back, a try refused by the host's circuit breaker (still open from the
    // outage, or half-open and testing with another request) is made again once the breaker lets
    // requests through, not a whole backoff later: a channel that stays connected ends no wait.
    if (Date.now() - this.connectedAt < RECONNECTED_MS) ms = Math.min(ms, HOST_OPEN_MS + Math.random() * 250);
    let wake!: () => void;
    const woken = new Promise<void>((resolve) => (wake = resolve));
    this.waiting.add(wake);
    const timer = setTimeout(wake, ms);
    timer.unref();
    this.watchChannels();
    await woken;
    clearTimeout(timer);
    this.waiting.delete(wake);
  }

  /** Closes the client, then the channels. Safe to call twice. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.client.close();
    for (const channel of this.channels.values()) channel.close();
    this.channels.clear();
    this.wake();
  }

  /** Follows the channels' states while someone waits, asking each to connect (an idle one would not by itself). */
  private watchChannels(): void {
    const channels = [...this.channels.values()];
    // No channel yet: nothing was ever asked of etcd, the waits run their course.
    if (this.watching || this.closed || channels.length === 0) return;
    this.watching = true;
    let done = false;
    const finish = (connected: boolean): void => {
      if (done) return;
      done = true;
      this.watching = false;
      if (connected) {
        this.connectedAt = Date.now();
        this.wake();
      }
    };
    const follow = (channel: Channel, from: connectivityState): void => {
      // Two seconds at most between looks: a channel is also asked to connect again then.
      channel.watchConnectivityState(from, Date.now() + 2_000, () => {
        if (done) return;
        if (this.closed || this.waiting.size === 0) return finish(false);
        let now: connectivityState;
        try {
          now = channel.getConnectivityState(true);
        } catch {
          return finish(false); // closed meanwhile
        }
        if (now === connectivityState.READY && from !== connectivityState.READY) return finish(true);
        follow(channel, now);
      });
    };
    for (const channel of channels) follow(channel, channel.getConnectivityState(true));
  }

  private wake(): void {
    for (const wake of [...this.waiting]) wake();
  }

  /** The member's one channel, as a view whose close() leaves it open (etcd3 closes its service clients' channels on errors). */
  private channel(target: string, credentials: ChannelCredentials, options: ChannelOptions): ChannelInterface {
    let channel = this.channels.get(target);
    if (!channel) {
      channel = new Channel(target, credentials, options);
      // Closed already: a channel that is closed at once, so that the call fails as on a closed client.
      if (this.closed) channel.close();
      else this.channels.set(target, channel);
    }
    return uncloseable(channel);
  }
}

function uncloseable(channel: Channel): ChannelInterface {
  return {
    close: () => undefined,
    getTarget: () => channel.getTarget(),
    getConnectivityState: (tryToConnect) => channel.getConnectivityState(tryToConnect),
    watchConnectivityState: (state, deadline, callback) => channel.watchConnectivityState(state, deadline, callback),
    getChannelzRef: () => channel.getChannelzRef(),
    createCall: (method, deadline, host, parentCall, propagateFlags) => channel.createCall(method, deadline, host, parentCall, propagateFlags),
  };
}
