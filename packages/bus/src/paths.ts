import { join } from 'node:path';

/** Where a core's sockets live under its run_dir (docs/README.md, the node). */
export interface CorePaths {
  runDir: string;
  /** ZeroMQ endpoint publishers push batches to. */
  publishEndpoint: string;
  /** ZeroMQ endpoint subscribers subscribe at. */
  subscribeEndpoint: string;
  /** Unix socket of the HTTP status API. */
  statusSocket: string;
  /** Lock file held by the running core. */
  lockFile: string;
}

export function corePaths(runDir: string): CorePaths {
  return {
    runDir,
    publishEndpoint: `ipc://${join(runDir, 'publish.sock')}`,
    subscribeEndpoint: `ipc://${join(runDir, 'subscribe.sock')}`,
    statusSocket: join(runDir, 'status.sock'),
    lockFile: join(runDir, 'core.pid'),
  };
}
