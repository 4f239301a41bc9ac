/** The core's log: one line per event worth an operator's attention, on stderr. */
export type LogLevel = 'INFO' | 'WARN' | 'ERROR';

export type Logger = (level: LogLevel, message: string) => void;

export const stderrLogger: Logger = (level, message) => {
  process.stderr.write(`${new Date().toISOString()} ${level} ${message}\n`);
};
