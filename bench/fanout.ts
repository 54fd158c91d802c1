/**
 * Timeline fan-out (issue 14; `npm run build:server && npm run bench:fanout`): how long until a
 * video of an author with N followers (default 10,000) is in every follower's timeline.
 *
 * Starts the api and the worker as child processes on a private MariaDB database, Redis prefix
 * and RabbitMQ vhost; inserts N follower accounts and their follows by SQL; gives each follower a
 * timeline in Redis in the form a build writes for an account that follows only this author (a
 * ready, complete, empty timeline: building them through the route would need N logins); then
 * publishes through `/video/publish` and polls every follower's timeline (one pipelined ZSCORE
 * per follower) until all hold the video. Prints the time from the publish's answer, and how many
 * followers had it at 0.5, 1 and 2 s. Repeats `--videos` times (default 5).
 * Options: --followers N, --videos N. MYSQL_URL, REDIS_URL, AMQP_URL (without vhost) as bench:likes.
 */
import { randomBytes } from 'node:crypto';
import { Agent } from 'node:http';
import { join } from 'node:path';
import Redis from 'ioredis';
import { createConnection } from 'mysql2/promise';
import { CacheKeys } from '@app/cache';
import { TIMELINE_TTL_MS, timelineMember } from '@app/feed';
import { postJson } from './http';
import {
  AMQP,
  arg,
  deleteRedisPrefix,
  MYSQL,
  REDIS,
  ROOT,
  run,
  sleep,
  spawnNode,
  startWorker,
  stop,
} from './processes';

const FOLLOWERS = arg('followers', 10_000);
const VIDEOS = arg('videos', 5);

async function main(): Promise<void> {
  const id = `b${Date.now().toString(36)}${randomBytes(3).toString('hex')}`;
  const db = `fsv_${id}`;
  const vhost = `fsv_${id}`;
  const prefix = `fsv:${id}:`;
  const admin = await createConnection(MYSQL);
  await admin.query(`CREATE DATABASE \`${db}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci`);
  await run('rabbitmqctl', ['-q', 'add_vhost', vhost]);
  await run('rabbitmqctl', ['-q', 'set_permissions', '-p', vhost, AMQP.username, '.*', '.*', '.*']);
  const port = 20000 + Math.floor(Math.random() * 20000);
  const base = `http://127.0.0.1:${port}`;
  const env = {
    NODE_ENV: 'production',
    JWT_SECRET: randomBytes(32).toString('hex'),
    DATA_DIR: join(ROOT, 'data', 'bench-fanout'),
    DATABASE_URL: `${MYSQL}/${db}`,
    REDIS_URL: REDIS,
    REDIS_KEY_PREFIX: prefix,
    AMQP_URL: `amqp://${AMQP.username}:${AMQP.password}@${AMQP.hostname}:${Number(AMQP.port || 5672)}/${vhost}`,
    RATE_LIMITS: 'off',
    LOG_LEVEL: 'error',
    PORT: String(port),
    HOST: '127.0.0.1',
  };
  const agent = new Agent({ keepAlive: true });
  const post = (path: string, body: unknown, token?: string) => postJson(base + path, body, agent, token);
  const api = spawnNode('dist/apps/api/src/main.js', env);
  let worker: Awaited<ReturnType<typeof startWorker>> | null = null;
  const redis = new Redis(REDIS);
  try {
    for (let i = 0; (await post('/healthz', {})).status === 0; i++) {
      if (i > 600) throw new Error('api did not start');
      await sleep(100);
    }
    worker = await startWorker(env);
    await post('/account/register', { username: 'fanout_author', password: 'bench-password' });
    const login = await post('/account/login', { username: 'fanout_author', password: 'bench-password' });
    const token = String(login.json.token);
    const authorId = Number(login.json.account_id);

    const sql = await createConnection(`${MYSQL}/${db}`);
    const now = Date.now();
    for (let i = 0; i < FOLLOWERS; i += 1000) {
      const n = Math.min(1000, FOLLOWERS - i);
      const names = Array.from({ length: n }, (_, j) => `fanbench_${i + j}`);
      await sql.query(
        `INSERT INTO accounts (username, username_key, password_hash, avatar_url, bio, follower_count, vlogger_count, create_time) VALUES ${names.map(() => "(?, ?, 'x', '', '', 0, 1, ?)").join(', ')}`,
        names.flatMap((u) => [u, u, now]),
      );
    }
    const [fans] = await sql.query(`SELECT id FROM accounts WHERE username LIKE 'fanbench\\_%' ORDER BY id`);
    const followers = (fans as { id: number }[]).map((r) => Number(r.id));
    for (let i = 0; i < followers.length; i += 1000) {
      const part = followers.slice(i, i + 1000);
      await sql.query(
        `INSERT INTO socials (follower_id, vlogger_id, create_time) VALUES ${part.map(() => '(?, ?, ?)').join(', ')}`,
        part.flatMap((f) => [f, authorId, now]),
      );
    }
    await sql.query('UPDATE accounts SET follower_count = ? WHERE id = ?', [followers.length, authorId]);
    await sql.end();

    // What a build writes for a follower of this author alone, before any video: ready, complete,
    // empty, with its follow set (the sentinel '0' and the author).
    const version = (await redis.get(prefix + CacheKeys.timelineVersion())) ?? '0';
    const seed = redis.pipeline();
    for (const f of followers) {
      const meta = prefix + CacheKeys.timelineMeta(f);
      const follows = prefix + CacheKeys.timelineFollows(f);
      seed.hset(meta, 'state', 'ready', 'floor', '', 'ver', version, 'big', '', 'token', 'bench');
      seed.pexpire(meta, TIMELINE_TTL_MS);
      seed.sadd(follows, '0', String(authorId));
      seed.pexpire(follows, TIMELINE_TTL_MS);
    }
    await seed.exec();
    console.log(`fan-out: 1 author, ${followers.length} followers with a timeline, ${VIDEOS} videos`);

    for (let v = 0; v < VIDEOS; v++) {
      const published = await post(
        '/video/publish',
        {
          title: `fan-out ${v}`,
          play_url: 'https://example.com/v.mp4',
          cover_url: 'https://example.com/c.jpg',
        },
        token,
      );
      const answered = Date.now();
      const member = timelineMember(Number(published.json.id));
      const at: Record<string, number> = {};
      let missing = followers.length;
      while (missing > 0 && Date.now() - answered < 30_000) {
        const p = redis.pipeline();
        for (const f of followers) p.zscore(prefix + CacheKeys.timeline(f), member);
        const replies = (await p.exec()) ?? [];
        missing = replies.filter(([, score]) => score === null).length;
        const elapsed = Date.now() - answered;
        for (const mark of [500, 1000, 2000]) {
          if (elapsed >= mark && at[mark] === undefined) at[mark] = followers.length - missing;
        }
      }
      const took = Date.now() - answered;
      console.log(
        `video ${v + 1}: in every timeline ${missing === 0 ? `after ${took} ms` : `NOT within 30 s (${missing} missing)`}` +
          ` (at 0.5 s: ${at[500] ?? followers.length}, 1 s: ${at[1000] ?? followers.length}, 2 s: ${at[2000] ?? followers.length} of ${followers.length})`,
      );
      await sleep(500);
    }
  } finally {
    if (worker) await stop(worker);
    await stop(api);
    agent.destroy();
    redis.disconnect();
    await admin.query(`DROP DATABASE IF EXISTS \`${db}\``);
    await admin.end();
    await run('rabbitmqctl', ['-q', 'delete_vhost', vhost]).catch(() => undefined);
    await deleteRedisPrefix(REDIS, prefix);
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
