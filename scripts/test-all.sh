#!/usr/bin/env bash
# The whole test suite (README's test command): static checks, build, unit, e2e on both
# profiles, fault injection, the Postman collection with newman, and the browser test.
# Needs MariaDB, Redis and RabbitMQ on 127.0.0.1 (see README); .ci/run starts them.
set -euo pipefail
cd "$(dirname "$0")/.."

started=$(date +%s)
step() { printf '\n=== [%4ss] %s\n' "$(( $(date +%s) - started ))" "$*"; }

step "check (format, lint, types)"
npm run --silent check
if command -v docker-compose >/dev/null 2>&1; then
  step "docker-compose.yml (docker-compose config -q)"
  # The file requires every secret (`${VAR:?}`); dummy values let it be validated here.
  JWT_SECRET=ci-dummy-secret-ci-dummy-secret-0123 MYSQL_PASSWORD=x MYSQL_ROOT_PASSWORD=x \
    REDIS_PASSWORD=x RABBITMQ_PASSWORD=x docker-compose -f docker-compose.yml config -q
fi
step "build"
npm run --silent build
step "unit"
npx jest --selectProjects unit
step "e2e (embedded + MariaDB/Redis/RabbitMQ)"
npx jest --selectProjects e2e --maxWorkers=2
step "e2e of the reads through Nest only (HTTP_FAST_READS=false)"
TEST_HTTP_FAST_READS=false npx jest \
  test/e2e/feed.e2e-spec.ts test/e2e/feed-cache.e2e-spec.ts test/e2e/tag.e2e-spec.ts test/e2e/video.e2e-spec.ts \
  --selectProjects e2e --maxWorkers=2
step "faults"
npx jest --selectProjects faults --runInBand
step "postman (newman)"
node scripts/run-postman.js
step "browser (playwright-core + Debian chromium)"
node test/browser/run.js
step "all tests passed"
