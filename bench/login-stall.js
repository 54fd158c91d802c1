#!/usr/bin/env node
// While 20 logins run concurrently (bcrypt cost 10), how fast does a cheap route answer?
// Starts the built api (embedded profile, RATE_LIMITS=off) on a free port in a temp DATA_DIR,
// runs the logins for DURATION_MS (default 10 s) and samples POST /account/findByID
// sequentially meanwhile; prints p50/p99/max. Target: p99 < 50 ms.
// Usage: npm run build:server && node bench/login-stall.js
const { spawn } = require('node:child_process');
const { mkdtempSync, rmSync } = require('node:fs');
const { tmpdir } = require('node:os');
const { join } = require('node:path');
const net = require('node:net');

const DURATION_MS = Number(process.env.DURATION_MS ?? 10_000);
const CONCURRENCY = Number(process.env.CONCURRENCY ?? 20);
const root = join(__dirname, '..');

const freePort = () =>
  new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });

async function post(base, path, body) {
  const res = await fetch(base + path, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  const json = await res.json();
  if (res.status !== 200) throw new Error(`${path} → ${res.status} ${JSON.stringify(json)}`);
  return json;
}

const pct = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];

async function main() {
  const port = await freePort();
  const dataDir = mkdtempSync(join(tmpdir(), 'fsv-bench-'));
  const env = {
    ...process.env,
    PORT: String(port),
    DATA_DIR: dataDir,
    RATE_LIMITS: 'off',
    LOG_LEVEL: 'warn',
  };
  for (const k of ['DATABASE_URL', 'REDIS_URL', 'AMQP_URL', 'NODE_ENV']) delete env[k];
  const child = spawn(process.execPath, [join(root, 'dist/apps/api/src/main.js')], { env, stdio: 'inherit' });
  const base = `http://127.0.0.1:${port}`;
  try {
    for (let i = 0; ; i++) {
      try {
        if ((await fetch(`${base}/healthz`)).ok) break;
      } catch {
        /* not up yet */
      }
      if (i > 150) throw new Error('api did not start');
      await new Promise((r) => setTimeout(r, 200));
    }
    const { id } = await post(base, '/account/register', { username: 'bench_user', password: 'secret123' });
    const end = Date.now() + DURATION_MS;
    let logins = 0;
    const loginLoop = async () => {
      while (Date.now() < end) {
        await post(base, '/account/login', { username: 'bench_user', password: 'secret123' });
        logins++;
      }
    };
    const samples = [];
    const probeLoop = async () => {
      while (Date.now() < end) {
        const t0 = performance.now();
        await post(base, '/account/findByID', { id });
        samples.push(performance.now() - t0);
        await new Promise((r) => setTimeout(r, 5));
      }
    };
    await Promise.all([...Array.from({ length: CONCURRENCY }, loginLoop), probeLoop()]);
    samples.sort((a, b) => a - b);
    const f = (n) => `${n.toFixed(1)} ms`;
    console.log(
      `logins: ${logins} in ${DURATION_MS / 1000} s with ${CONCURRENCY} concurrent (${(logins / (DURATION_MS / 1000)).toFixed(1)}/s)`,
    );
    console.log(
      `findByID: n=${samples.length} p50=${f(pct(samples, 50))} p99=${f(pct(samples, 99))} max=${f(samples[samples.length - 1])}`,
    );
    const ok = pct(samples, 99) < 50;
    console.log(ok ? 'PASS: p99 < 50 ms' : 'FAIL: p99 >= 50 ms');
    process.exitCode = ok ? 0 : 1;
  } finally {
    child.kill('SIGTERM');
    rmSync(dataDir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
