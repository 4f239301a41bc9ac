export * from './pattern.js';
export * from './positions.js';
export * from './lines.js';
export * from './tailer.js';
export * from './notices.js';
