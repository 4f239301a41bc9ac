import { describe, expect, it } from 'vitest';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '@logyard/config';
import { EventMatcher } from '../src/index.js';

const RULES = join(dirname(fileURLToPath(import.meta.url)), '../../../configs/events-rules.yaml');

describe('the shipped configs/events-rules.yaml', () => {
  const matcher = new EventMatcher(loadConfig({ config: RULES }, {}, '/nonexistent').events.rules);

  it.each([
    ['kern', 'kernel: Out of memory: Killed process 4242 (java) total-vm:1kB', 'oom_kill', 'kernel killed java (pid 4242): out of memory'],
    ['syslog', 'May  1 12:00:00 h systemd[1]: Started nginx.service - A high performance web server.', 'process_start', 'nginx.service started'],
    ['syslog', 'May  1 12:00:00 h systemd[1]: nginx.service: Main process exited, code=exited, status=1/FAILURE', 'process_exit', 'nginx.service exited (exited, status 1/FAILURE)'],
    ['supervisord', '2024-05-01 12:00:00,000 INFO exited: web (exit status 1; not expected)', 'process_exit', 'web exited (exit status 1; not expected)'],
    ['supervisord', '2024-05-01 12:00:00,000 INFO success: web entered RUNNING state, process has stayed up', 'process_start', 'web started'],
    ['nginx', '2024/05/01 12:00:00 [error] 12#0: *3 open() "/x" failed', 'nginx_error', 'nginx error: open() "/x" failed'],
    ['logyard', '2024-05-01T12:00:00.000Z WARN drain mylogs: RETRYING (connect ECONNREFUSED)', 'drain_state', 'drain mylogs is RETRYING connect ECONNREFUSED'],
    ['myapp', '12:00 ERROR: database unreachable', 'error', 'database unreachable'],
    ['myapp', '12:00 [WARNING] disk 91% full', 'warning', 'disk 91% full'],
  ])('%s: %s', (name, line, type, desc) => {
    expect(matcher.match(name, line)).toMatchObject({ type, desc, process: name });
  });

  it('makes no event of an ordinary line', () => {
    expect(matcher.match('syslog', 'May  1 12:00:00 h CRON[1]: (root) CMD (true)')).toBeNull();
  });
});
