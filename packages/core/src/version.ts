import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * Logyard's version, kept in one place: the `version` of the package named `logyard`, the nearest
 * one above this file. That is the repository's package.json in a checkout, and the installed
 * package's in `npm install -g ./logyard-<version>.tgz` (its workspaces are bundled beneath it).
 */
function readVersion(): string {
  for (let dir = dirname(fileURLToPath(import.meta.url)); ; dir = dirname(dir)) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'logyard' && pkg.version) return pkg.version;
    } catch {
      // no package.json here: look higher
    }
    if (dir === dirname(dir)) return 'unknown';
  }
}

export const VERSION = readVersion();
