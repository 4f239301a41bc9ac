// Helpers shared by the benchmarks.
import { request } from 'node:http';
import { join } from 'node:path';

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** GET /status of the core on `runDir`, parsed. */
export function getStatus(runDir) {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath: join(runDir, 'status.sock'), path: '/status' }, (res) => {
      let b = '';
      res.on('data', (d) => (b += d));
      res.on('end', () => resolve(JSON.parse(b)));
    });
    req.on('error', reject);
    req.end();
  });
}
