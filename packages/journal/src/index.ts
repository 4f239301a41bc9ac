export * from './errors.js';
export * from './entry.js';
export * from './event.js';
export * from './units.js';
export * from './cursor.js';
export { probeJournal, describeSource, journalDirectoryProblem, journalctlProblem, type JournalSource } from './journalctl.js';
export { Journal, type JournalOptions, type JournalStats, type JournalLogLevel } from './journal.js';
