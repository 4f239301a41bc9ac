export * from './errors.js';
export * from './types.js';
export { drainNameProblem, MAX_DRAIN_NAME_BYTES } from './names.js';
export * from './file-store.js';
export * from './etcd-store.js';
export * from './open.js';
export { usableNameProblem } from './drain-entry.js';
export { drainStatusRows } from './node-status.js';
export { compare as compareNames } from './json.js';
