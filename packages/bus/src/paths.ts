import { join } from 'node:path';

/** Where a core's sockets live under its run_dir (docs/README.md, the node). */
export interface CorePaths {
  runDir: string;
  /** ZeroMQ endpoint publishers push batches to, and its socket file. */
  publishEndpoint: string;
  publishSocket: string;
  /** ZeroMQ endpoint subscribers subscribe at, and its socket file. */
  subscribeEndpoint: string;
  subscribeSocket: string;
  /** Unix socket of the HTTP status API. */
  statusSocket: string;
  /** Lock file held by the running core. */
  lockFile: string;
}

export function corePaths(runDir: string): CorePaths {
  const publishSocket = join(runDir, 'publish.sock');
  const subscribeSocket = join(runDir, 'subscribe.sock');
  return {
    runDir,
    publishEndpoint: `ipc://${publishSocket}`,
    publishSocket,
    subscribeEndpoint: `ipc://${subscribeSocket}`,
    subscribeSocket,
    statusSocket: join(runDir, 'status.sock'),
    lockFile: join(runDir, 'core.pid'),
  };
}
