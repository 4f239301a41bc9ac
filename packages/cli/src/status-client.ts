import { request } from 'node:http';
import { corePaths } from '@logyard/bus';
import type { CoreStatus } from '@logyard/core';
import { runtimeError } from './errors.js';

/** GET /status from the core on this run_dir's socket. */
export function fetchCoreStatus(runDir: string, timeoutMs = 3000): Promise<CoreStatus> {
  const socketPath = corePaths(runDir).statusSocket;
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
