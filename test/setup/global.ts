import type { TestProject } from 'vitest/node';
import { startEtcd, startRedis, type RunningEtcd, type RunningService } from './services.js';

declare module 'vitest' {
  export interface ProvidedContext {
    redisPort: number;
    /** URI of the run's etcd (etcd://127.0.0.1:<port>); tests that kill or restart etcd start their own. */
    etcdUri: string;
  }
}

let redis: RunningService | undefined;
let etcd: RunningEtcd | undefined;

/**
 * Starts one real redis-server and one real etcd on free ports for the whole run; tests use
 * distinct redis keys/databases. The store's layout in etcd is fixed (/logyard/...), so only one
 * test file (the store contract) uses the shared etcd; the cluster tests start their own.
 */
export async function setup(project: TestProject): Promise<void> {
  [redis, etcd] = await Promise.all([startRedis(), startEtcd()]);
  project.provide('redisPort', redis.port);
  project.provide('etcdUri', etcd.uri);
}

export async function teardown(): Promise<void> {
  await Promise.all([redis?.stop(), etcd?.stop()]);
}
