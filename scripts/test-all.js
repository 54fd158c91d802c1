#!/usr/bin/env node
// The whole test suite (README's test command, `npm test`): static checks, build, unit, e2e on
// both profiles, fault injection, the Postman collection with newman, and the browser test.
// Needs MariaDB, Redis and RabbitMQ on 127.0.0.1 (see README); .ci/run starts them.
// Node rather than a shell script, so that `npm test` needs no bash (Windows runs npm scripts in
// cmd.exe): npm and Jest are run by this Node, not through `npm`/`npx` shims.
const { spawnSync } = require('node:child_process');
const { npmCli } = require('./npm-cli');
const { join } = require('node:path');

const root = join(__dirname, '..');
const started = Date.now();
const JEST = require.resolve('jest/bin/jest', { paths: [root] });
const NPM_CLI = npmCli();

function step(title) {
  const s = String(Math.round((Date.now() - started) / 1000)).padStart(4);
  console.log(`\n=== [${s}s] ${title}`);
}

/** Runs a command inheriting the terminal; exits with its status when it fails. */
function run(command, args, env = {}) {
  const r = spawnSync(command, args, { cwd: root, stdio: 'inherit', env: { ...process.env, ...env } });
  if (r.error) throw r.error;
  if (r.status !== 0) {
    console.error(`\n${[command, ...args].join(' ')} failed (${r.signal ?? `exit ${r.status}`})`);
    process.exit(r.status || 1);
  }
}

const node = (...args) => run(process.execPath, args);
const npm = (...args) => node(NPM_CLI, ...args);
const jest = (args, env) => run(process.execPath, [JEST, ...args], env);

/** Whether `command` can be started (it is on the PATH). */
function available(command, args) {
  const r = spawnSync(command, args, { stdio: 'ignore', shell: process.platform === 'win32' });
  return !r.error && r.status === 0;
}

step('check (format, lint, types)');
npm('run', '--silent', 'check');
if (available('docker-compose', ['version'])) {
  step('docker-compose.yml (docker-compose config -q)');
  // The file requires every secret (`${VAR:?}`); dummy values let it be validated here.
  run('docker-compose', ['-f', 'docker-compose.yml', 'config', '-q'], {
    JWT_SECRET: 'ci-dummy-secret-ci-dummy-secret-0123',
    MYSQL_PASSWORD: 'x',
    MYSQL_ROOT_PASSWORD: 'x',
    REDIS_PASSWORD: 'x',
    RABBITMQ_PASSWORD: 'x',
  });
}
step('build');
npm('run', '--silent', 'build');
step('unit');
jest(['--selectProjects', 'unit']);
step('e2e (embedded + MariaDB/Redis/RabbitMQ)');
jest(['--selectProjects', 'e2e', '--maxWorkers=2']);
step('e2e of the reads through Nest only (HTTP_FAST_READS=false)');
jest(
  [
    'test/e2e/feed.e2e-spec.ts',
    'test/e2e/feed-cache.e2e-spec.ts',
    'test/e2e/tag.e2e-spec.ts',
    'test/e2e/video.e2e-spec.ts',
    '--selectProjects',
    'e2e',
    '--maxWorkers=2',
  ],
  { TEST_HTTP_FAST_READS: 'false' },
);
step('faults');
jest(['--selectProjects', 'faults', '--runInBand']);
step('postman (newman)');
node('scripts/run-postman.js');
step('browser (playwright-core + Chromium)');
node('test/browser/run.js');
step('all tests passed');
