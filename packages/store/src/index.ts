// The backends' classes are not exported here but from `@logyard/store/etcd` and `@logyard/store/file`:
// openStore() loads only the one a node uses (etcd3 and its gRPC stack cost a core ~30 MB).
export * from './errors.js';
export * from './types.js';
export { drainNameProblem, MAX_DRAIN_NAME_BYTES } from '@logyard/bus';
export * from './open.js';
export { usableNameProblem } from './drain-entry.js';
export { drainStatusRows, encodeNodeStatus, encodeNodeStatusBody, NodeStatusEncoder, withUpdated } from './node-status.js';
export { compare as compareNames } from './json.js';
export { Backoff } from './time.js';
export * from './cluster-view.js';
