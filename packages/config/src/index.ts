export * from './errors.js';
export * from './config.js';
export * from './effective.js';
export * from './formats.js';
