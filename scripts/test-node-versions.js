#!/usr/bin/env node
// Runs the project on other Node.js lines than the one installed: for each version (default 22
// and 24), the `node` package from the npm registry provides the binary; with it this script
// builds the server, runs the unit tests, the e2e suites of the MariaDB + Redis + RabbitMQ profile
// (its dependencies are pure JavaScript), starts the built api and worker and checks /healthz.
// The embedded (SQLite) profile needs better-sqlite3 built for that Node's ABI, which `npm ci`
// on that Node does (from its prebuilt binaries or from source); this machine reaches neither
// their download host nor Node's headers for other versions, so it is not run here.
//   npm run test:node-versions              # 22 and 24
//   NODE_VERSIONS=24 npm run test:node-versions
// A Node script (as scripts/test-all.js), so it needs no shell: the tools are run by that
// version's node binary, not through `npx` shims.
const { spawnSync } = require('node:child_process');
const { npmCli } = require('./npm-cli');
const { mkdtempSync, rmSync } = require('node:fs');
const { tmpdir } = require('node:os');
const { delimiter, dirname, join } = require('node:path');

const root = join(__dirname, '..');
const versions = (process.env.NODE_VERSIONS || '22 24').split(/[\s,]+/).filter(Boolean);
const NPM_CLI = npmCli();
const bin = (pkg, path) => require.resolve(`${pkg}/${path}`, { paths: [root] });
const JEST = bin('jest', 'bin/jest');
const TSC = bin('typescript', 'bin/tsc');
const TSC_ALIAS = bin('tsc-alias', 'dist/bin/index.js');

/** Runs `command` inheriting the terminal; throws when it fails. */
function run(command, args, env = process.env) {
  const r = spawnSync(command, args, { cwd: root, stdio: 'inherit', env });
  if (r.error) throw r.error;
  if (r.status !== 0)
    throw new Error(`${[command, ...args].join(' ')} failed (${r.signal ?? `exit ${r.status}`})`);
}

/** The path of the `node` binary of version `v`, fetched by npm from the registry (cached after). */
function nodeBinary(v) {
  const r = spawnSync(
    process.execPath,
    [
      NPM_CLI,
      'exec',
      '--yes',
      `--package=node@${v}`,
      '--',
      'node',
      '-e',
      'process.stdout.write(process.execPath)',
    ],
    { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], shell: false },
  );
  if (r.error) throw r.error;
  if (r.status !== 0 || !r.stdout)
    throw new Error(`could not get Node ${v} from the npm registry (exit ${r.status})`);
  return r.stdout.trim();
}

function testOn(v) {
  const node = nodeBinary(v);
  // That version's node first on the PATH, for whatever the tools start as `node`.
  const env = { ...process.env, PATH: `${dirname(node)}${delimiter}${process.env.PATH ?? ''}` };
  const version = spawnSync(node, ['-p', 'process.versions.node'], { encoding: 'utf8' }).stdout.trim();
  console.log(`=== Node ${version}`);
  run(node, ['scripts/check-engines.js', version], env);
  const out = mkdtempSync(join(tmpdir(), 'fsv-node-'));
  try {
    run(node, [TSC, '-p', 'tsconfig.build.json', '--outDir', out], env);
    run(node, [TSC_ALIAS, '-p', 'tsconfig.build.json', '--outDir', out], env);
    run(node, [JEST, '--selectProjects', 'unit'], env);
    // Suites that start an embedded (SQLite) app whatever TEST_PROFILES says are left out.
    run(
      node,
      [
        JEST,
        '--selectProjects',
        'e2e',
        '--runInBand',
        '--testPathIgnorePatterns',
        'test/e2e/(schema|notification-stream|auth-rate-limit)',
        'test/security/(request-limits|headers-metrics-logs)',
      ],
      { ...env, TEST_PROFILES: 'full' },
    );
    run(node, ['scripts/smoke-dist.js'], { ...env, NODE_PATH: join(root, 'node_modules'), OUT: out });
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}

try {
  for (const v of versions) testOn(v);
  console.log('=== every Node version passed');
} catch (err) {
  console.error(`\n${err instanceof Error ? err.message : String(err)}`);
  process.exitCode = 1;
}
