#!/usr/bin/env node
// Rebuilds test/postman.json, starts the built api on a free port with a fresh embedded data
// dir (rate limits off), runs the collection with newman, stops the server.
const { spawn, execFileSync } = require('node:child_process');
const { mkdtempSync, rmSync } = require('node:fs');
const { tmpdir } = require('node:os');
const { join } = require('node:path');
const net = require('node:net');
const newman = require('newman');

const root = join(__dirname, '..');

function freePort() {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

async function waitHealthy(url, child, timeoutMs = 30000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`api exited with ${child.exitCode}`);
    try {
      const res = await fetch(url);
      if (res.ok) return;
    } catch {
      /* not up yet */
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error('api did not become healthy');
}

async function main() {
  execFileSync(process.execPath, [join(__dirname, 'build-postman.js')], { stdio: 'inherit' });
  const port = await freePort();
  const dataDir = mkdtempSync(join(tmpdir(), 'fsv-postman-'));
  const env = {
    ...process.env,
    PORT: String(port),
    DATA_DIR: dataDir,
    RATE_LIMITS: 'off',
    LOG_LEVEL: 'warn',
  };
  for (const k of ['DATABASE_URL', 'REDIS_URL', 'AMQP_URL', 'NODE_ENV']) delete env[k];
  const child = spawn(process.execPath, [join(root, 'dist/apps/api/src/main.js')], { env, stdio: 'inherit' });
  let code = 1;
  try {
    await waitHealthy(`http://127.0.0.1:${port}/healthz`, child);
    const summary = await new Promise((resolve, reject) =>
      newman.run(
        {
          collection: require(join(root, 'test/postman.json')),
          envVar: [{ key: 'host', value: `http://127.0.0.1:${port}` }],
          reporters: ['cli'],
          workingDir: root,
        },
        (err, s) => (err ? reject(err) : resolve(s)),
      ),
    );
    const failures = summary.run.failures.length;
    const assertions = summary.run.stats.assertions;
    console.log(`${assertions.total - assertions.failed} passed, ${assertions.failed} failed`);
    code = failures === 0 ? 0 : 1;
  } finally {
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
    rmSync(dataDir, { recursive: true, force: true });
  }
  process.exit(code);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
