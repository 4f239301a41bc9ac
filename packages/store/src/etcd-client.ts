import { readFile } from 'node:fs/promises';
import {
  EtcdAuthenticationFailedError,
  EtcdInvalidAuthTokenError,
  EtcdPermissionDeniedError,
  EtcdRoleNotGrantedError,
  EtcdUserNotFoundError,
  isRecoverableError,
  type IOptions,
} from 'etcd3';
import { circuitBreaker, ConsecutiveBreaker, handleWhen, retry } from 'cockatiel';
import { StoreError, StoreUnavailableError } from './errors.js';
import type { EtcdEndpoint } from './etcd-uri.js';
import { TimeoutError } from './time.js';

/** How long a host's circuit stays open (every request refused at once) after three failures in a row. */
export const HOST_OPEN_MS = 1_000;

/** Builds the client options: short deadlines, quick reconnects, keepalives that notice a dead peer. */
export async function clientOptions(endpoint: EtcdEndpoint, timeoutMs: number, ownConnections = false): Promise<IOptions> {
  const readParam = async (param: 'ca' | 'cert' | 'key'): Promise<Buffer | undefined> => {
    const file = endpoint[param];
    if (file === undefined) return undefined;
    try {
      return await readFile(file);
    } catch (err) {
      throw new StoreError(`${endpoint.description}: cannot read the ${param} file ${file}: ${(err as Error).message}`, { cause: err });
    }
  };
  const [ca, cert, key] = await Promise.all([readParam('ca'), readParam('cert'), readParam('key')]);
  const options: IOptions = {
    hosts: endpoint.hosts.map((host) => `${endpoint.tls ? 'https' : 'http'}://${host}`),
    dialTimeout: timeoutMs,
    defaultCallOptions: (context) => (context.isStream ? {} : { deadline: Date.now() + timeoutMs }),
    grpcOptions: {
      'grpc.keepalive_time_ms': 10_000,
      'grpc.keepalive_timeout_ms': 5_000,
      'grpc.initial_reconnect_backoff_ms': 200,
      'grpc.max_reconnect_backoff_ms': 2_000,
      // gRPC shares one connection among the clients of a process that have the same options.
      ...(ownConnections ? { 'grpc.use_local_subchannel_pool': 1 } : {}),
    },
    faultHandling: {
      // A host that failed is skipped for a second, not the library's five: a returning etcd is
      // used again quickly. One retry on another host, so a down cluster fails fast.
      host: () => circuitBreaker(handleWhen(isRecoverableError), { halfOpenAfter: HOST_OPEN_MS, breaker: new ConsecutiveBreaker(3) }),
      global: retry(handleWhen(isRecoverableError), { maxAttempts: endpoint.hosts.length > 1 ? 1 : 0 }),
    },
  };
  if (endpoint.username !== undefined) options.auth = { username: endpoint.username, password: endpoint.password ?? '' };
  if (endpoint.tls && (ca || cert)) {
    // Without `ca`, the system's roots verify the server.
    options.credentials = { rootCertificate: ca as Buffer, privateKey: key, certChain: cert };
  }
  return options;
}

/** An etcd client's error as one line naming the store and what failed: bad credentials, refused access, or etcd unavailable. */
export function etcdFailure(description: string, timeoutMs: number, action: string, err: unknown): StoreError {
  if (err instanceof StoreError) return err;
  if (err instanceof EtcdAuthenticationFailedError || err instanceof EtcdUserNotFoundError || err instanceof EtcdInvalidAuthTokenError) {
    return new StoreError(`${description}: authentication failed (wrong user or password)`, { cause: err });
  }
  if (err instanceof EtcdPermissionDeniedError || err instanceof EtcdRoleNotGrantedError) {
    return new StoreError(`${description}: permission denied to ${action}`, { cause: err });
  }
  const message = err instanceof TimeoutError ? `no answer within ${timeoutMs} ms` : oneLine((err as Error)?.message ?? String(err));
  return new StoreUnavailableError(`${description}: cannot ${action}: ${message}`, { cause: err });
}

function oneLine(text: string): string {
  return text.replace(/\s+/g, ' ').trim();
}
