#!/usr/bin/env node
// Smoke test of a built server (`OUT`, default dist/) on the full profile: starts the api and the
// worker on a private MariaDB database, Redis prefix and RabbitMQ vhost, waits for both
// /healthz, then registers, publishes and likes a video and waits for the worker to count the
// like. Used by scripts/test-node-versions.js to run the real processes on another Node.
const { execFileSync, spawn } = require('node:child_process');
const { randomBytes } = require('node:crypto');
const { mkdtempSync, rmSync } = require('node:fs');
const net = require('node:net');
const { tmpdir } = require('node:os');
const { join } = require('node:path');
const Redis = require('ioredis');
const mysql = require('mysql2/promise');

const OUT = process.env.OUT || join(__dirname, '..', 'dist');
const MYSQL = process.env.TEST_MYSQL_URL || 'mysql://root@127.0.0.1:3306';
const AMQP = process.env.TEST_AMQP_URL || 'amqp://guest:guest@127.0.0.1:5672';
const REDIS = process.env.TEST_REDIS_URL || 'redis://127.0.0.1:6379';

const freePort = () =>
  new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function until(what, fn, ms = 60000) {
  const end = Date.now() + ms;
  for (;;) {
    try {
      if (await fn()) return;
    } catch {
      /* not yet */
    }
    if (Date.now() > end) throw new Error(`${what}: not within ${ms} ms`);
    await sleep(250);
  }
}

async function main() {
  const id = `smoke${randomBytes(4).toString('hex')}`;
  const admin = await mysql.createConnection(MYSQL);
  await admin.query(`CREATE DATABASE \`${id}\``);
  execFileSync('rabbitmqctl', ['-q', 'add_vhost', id]);
  execFileSync('rabbitmqctl', ['-q', 'set_permissions', '-p', id, 'guest', '.*', '.*', '.*']);
  const dataDir = mkdtempSync(join(tmpdir(), 'fsv-smoke-'));
  const [port, workerPort] = [await freePort(), await freePort()];
  const env = {
    ...process.env,
    NODE_ENV: 'test',
    JWT_SECRET: 'smoke-secret-smoke-secret-smoke-secret-0',
    DATA_DIR: dataDir,
    DATABASE_URL: `${MYSQL}/${id}`,
    REDIS_URL: REDIS,
    REDIS_KEY_PREFIX: `${id}:`,
    AMQP_URL: `${AMQP}/${id}`,
    RATE_LIMITS: 'off',
    LOG_LEVEL: 'warn',
    PORT: String(port),
    HOST: '127.0.0.1',
    WORKER_HTTP_PORT: String(workerPort),
  };
  const procs = [spawn(process.execPath, [join(OUT, 'apps/api/src/main.js')], { env, stdio: 'inherit' })];
  try {
    const api = `http://127.0.0.1:${port}`;
    await until('api /healthz', async () => (await fetch(`${api}/healthz`)).ok);
    procs.push(spawn(process.execPath, [join(OUT, 'apps/worker/src/main.js')], { env, stdio: 'inherit' }));
    await until('worker /healthz', async () => (await fetch(`http://127.0.0.1:${workerPort}/healthz`)).ok);
    const post = async (path, body, token) => {
      const res = await fetch(api + path, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          ...(token ? { authorization: `Bearer ${token}` } : {}),
        },
        body: JSON.stringify(body),
      });
      if (!res.ok) throw new Error(`${path}: ${res.status} ${await res.text()}`);
      return res.json();
    };
    await post('/account/register', { username: id, password: 'password123' });
    const { token } = await post('/account/login', { username: id, password: 'password123' });
    const video = await post(
      '/video/publish',
      { title: 'smoke', play_url: 'https://example.com/v.mp4', cover_url: 'https://example.com/c.jpg' },
      token,
    );
    await post('/like/like', { video_id: video.id }, token);
    await until(
      'the worker counts the like',
      async () => (await post('/video/getDetail', { id: video.id })).likes_count === 1,
      15000,
    );
    console.log(`smoke: api and worker on Node ${process.version} serve, publish, like and count`);
  } finally {
    for (const p of procs) p.kill('SIGTERM');
    await sleep(1500);
    await admin.query(`DROP DATABASE IF EXISTS \`${id}\``);
    await admin.end();
    execFileSync('rabbitmqctl', ['-q', 'delete_vhost', id]);
    rmSync(dataDir, { recursive: true, force: true });
    const redis = new Redis(REDIS);
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${id}:*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length) await redis.del(...keys);
    } while (cursor !== '0');
    redis.disconnect();
  }
}

main().catch((err) => {
  console.error(`smoke failed: ${err.message}`);
  process.exit(1);
});
