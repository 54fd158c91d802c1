#!/usr/bin/env bash
# Runs the project on other Node.js lines than the one installed: for each version (default 22
# and 24), the `node` package from the npm registry provides the binary; with it this script
# builds the server, runs the unit tests, the e2e suites of the MariaDB + Redis + RabbitMQ profile
# (its dependencies are pure JavaScript), starts the built api and worker and checks /healthz.
# The embedded (SQLite) profile needs better-sqlite3 built for that Node's ABI, which `npm ci`
# on that Node does (from its prebuilt binaries or from source); this machine reaches neither
# their download host nor Node's headers for other versions, so it is not run here.
#   npm run test:node-versions              # 22 and 24
#   NODE_VERSIONS=24 npm run test:node-versions
set -euo pipefail
cd "$(dirname "$0")/.."

for v in ${NODE_VERSIONS:-22 24}; do
  node_bin=$(npm exec --yes --package="node@$v" -- node -e 'process.stdout.write(process.execPath)')
  bin_dir=$(dirname "$node_bin")
  run() { PATH="$bin_dir:$PATH" "$@"; }
  echo "=== Node $(run node --version)"
  run node scripts/check-engines.js "$(run node -p 'process.versions.node')"
  out=$(mktemp -d)
  run npx tsc -p tsconfig.build.json --outDir "$out" && run npx tsc-alias -p tsconfig.build.json --outDir "$out"
  run npx jest --selectProjects unit
  # Suites that start an embedded (SQLite) app whatever TEST_PROFILES says are left out.
  run env TEST_PROFILES=full npx jest --selectProjects e2e --runInBand --testPathIgnorePatterns \
    'test/e2e/(schema|notification-stream|auth-rate-limit)' 'test/security/(request-limits|headers-metrics-logs)'
  run env NODE_PATH="$PWD/node_modules" OUT="$out" node scripts/smoke-dist.js
  rm -rf "$out"
done
echo "=== every Node version passed"
