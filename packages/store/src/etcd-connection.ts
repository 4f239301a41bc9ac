import { Channel, type ChannelCredentials, type ChannelInterface, type ChannelOptions } from '@grpc/grpc-js';
import { Etcd3, type IOptions } from 'etcd3';

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

  constructor(options: IOptions) {
    this.client = new Etcd3({
      ...options,
      grpcOptions: { ...options.grpcOptions, channelFactoryOverride: (target: string, credentials: ChannelCredentials, channelOptions: ChannelOptions) => this.channel(target, credentials, channelOptions) },
    });
  }

  /** Closes the client, then the channels. Safe to call twice. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.client.close();
    for (const channel of this.channels.values()) channel.close();
    this.channels.clear();
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
