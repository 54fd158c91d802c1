#!/usr/bin/env bash
# The whole test suite (README's test command): static checks, build, unit, e2e on both
# profiles, fault injection, the Postman collection with newman, and the browser test.
# Needs MariaDB, Redis and RabbitMQ on 127.0.0.1 (see README); .ci/run starts them.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n=== %s\n' "$*"; }

step "check (format, lint, types)"
npm run --silent check
step "build"
npm run --silent build
step "unit"
npx jest --selectProjects unit --passWithNoTests
step "e2e (embedded + MariaDB/Redis/RabbitMQ)"
npx jest --selectProjects e2e --maxWorkers=2
step "faults"
npx jest --selectProjects faults --runInBand --passWithNoTests
step "postman (newman)"
node scripts/run-postman.js
if [ -f test/browser/run.js ]; then
  step "browser (playwright-core + Debian chromium)"
  node test/browser/run.js
fi
step "all tests passed"
