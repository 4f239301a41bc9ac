#!/usr/bin/env bash
# Sets up this checkout to run a node: checks Node.js, installs the npm dependencies and builds.
# A node on the embedded store needs nothing from Debian. The tests' programs (redis, etcd, rsyslog,
# dockerd, Chromium, ...) are installed by scripts/test-setup.sh, which scripts/test.sh runs.
# Safe to run again; it skips what is done.
set -euo pipefail
cd "$(dirname "$0")/.."

node_major=$(node -p 'process.versions.node.split(".")[0]')
if [ "$node_major" -lt 20 ]; then
  echo "setup: Node.js 20 or newer is needed (found $(node --version))" >&2
  exit 1
fi

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  if [ -f package-lock.json ]; then npm ci --no-audit --no-fund --loglevel=error; else npm install --no-audit --no-fund --loglevel=error; fi
fi
npm run --silent build
