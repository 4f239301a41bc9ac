// `npm run bench`: every benchmark, each printing a table and a JSON line.
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
for (const bench of ['core.mjs', 'systail.mjs', 'cluster.mjs', 'memory.mjs', 'cluster-sim.mjs', 'tail.mjs', 'receive.mjs', 'journal.mjs', 'disk.mjs', 'disk-rss.mjs']) {
  const r = spawnSync(process.execPath, [join(here, 'bench', bench), ...process.argv.slice(2)], { stdio: 'inherit' });
  if (r.status !== 0) process.exit(r.status ?? 1);
}
