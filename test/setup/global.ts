import type { TestProject } from 'vitest/node';
import { startRedis, type RunningService } from './services.js';

declare module 'vitest' {
  export interface ProvidedContext {
    redisPort: number;
  }
}

let redis: RunningService | undefined;

/** Starts one real redis-server on a free port for the whole run; tests use distinct keys/databases. */
export async function setup(project: TestProject): Promise<void> {
  redis = await startRedis();
  project.provide('redisPort', redis.port);
}

export async function teardown(): Promise<void> {
  await redis?.stop();
}
