#!/usr/bin/env bash
# The whole test suite: sets up what the tests need, runs every test, and ends with one
# line "N passed, N failed[, N skipped]".
set -uo pipefail
cd "$(dirname "$0")/.."
{ scripts/test-setup.sh && scripts/setup.sh; } || { echo "0 passed, 1 failed"; exit 1; }
results=.test-results.json
rm -f "$results"
npx vitest run --reporter=default --reporter=json --outputFile="$results" "$@"
status=$?
node scripts/test-summary.mjs "$results" || status=1
exit $status
