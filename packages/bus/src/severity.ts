/**
 * Syslog severity names by number (0 emerg ... 7 debug), as rsyslog (`syslogseverity-text`) and
 * Vector print them: the syslog receiver's `syslog.severity` and the journal's `severity` (PRIORITY).
 */
export const SEVERITY_NAMES = ['emerg', 'alert', 'crit', 'err', 'warning', 'notice', 'info', 'debug'] as const;
