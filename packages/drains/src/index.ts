export * from './errors.js';
export * from './uri.js';
export * from './formats.js';
export * from './buffer.js';
export * from './retry.js';
export type { OutBatch, Transport, TransportContext, TransportFactory } from './transport.js';
export * from './schemes/index.js';
export * from './drain.js';
export * from './recent.js';
