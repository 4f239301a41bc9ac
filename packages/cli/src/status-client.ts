import { existsSync } from 'node:fs';
import { request } from 'node:http';
import { checkRunDir, checkRunDirSocket, corePaths } from '@logyard/bus';
import type { CoreStatus } from '@logyard/core';
import { runtimeError } from './errors.js';

/**
 * Whether this run_dir has a core's publish.sock: a core is likely running (one killed with -9
 * leaves its socket behind, so this is a hint for notes, not proof).
 */
export function coreSocketPresent(runDir: string): boolean {
  return existsSync(corePaths(runDir).publishSocket);
}

/** GET /status from the core on this run_dir's socket. */
export function fetchCoreStatus(runDir: string, timeoutMs = 3000): Promise<CoreStatus> {
  const socketPath = corePaths(runDir).statusSocket;
  // A run_dir or socket another user could have made is refused, and one this user may not
  // enter is a permission error naming it, rather than "no core running".
  if (!checkRunDir(runDir) || !checkRunDirSocket(socketPath, runDir)) {
    return Promise.reject(runtimeError(`no core running on ${runDir} (ENOENT)`));
  }
  return new Promise((resolve, reject) => {
    const req = request({ socketPath, path: '/status', timeout: timeoutMs }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => {
        try {
          resolve(JSON.parse(body) as CoreStatus);
        } catch (err) {
          reject(runtimeError(`core at ${socketPath} answered with something that is not status JSON`, err));
        }
      });
    });
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', (err) => reject(runtimeError(`no core running on ${runDir} (${(err as NodeJS.ErrnoException).code ?? err.message})`, err)));
    req.end();
  });
}
