export * from './errors.js';
export * from './core.js';
export * from './status.js';
export * from './log.js';
export * from './version.js';
export { DrainSet, type DrainDefinition } from './drain-set.js';
export { isProcessAlive } from './lock.js';
export { clientStatsDir, clientStatsFile, readClientStats, type ClientStats } from './client-stats.js';
export { readCluster } from './cluster.js';
