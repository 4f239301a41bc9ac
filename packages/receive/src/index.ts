export * from './errors.js';
export * from './listen-uri.js';
export * from './syslog.js';
export * from './syslog-event.js';
export * from './header-cache.js';
export { plainTextEnd } from './text-bytes.js';
export * from './framing.js';
export * from './json.js';
export { Receiver, type ReceiverOptions, type ReceiverStats, type MalformedReason, type ReceiveLogLevel } from './receiver.js';
