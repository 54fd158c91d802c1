import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import Redis from 'ioredis';
import { createConnection } from 'mysql2/promise';

const run = promisify(execFile);

export type Profile = 'embedded' | 'full';

/** Profiles the e2e suites run on; `TEST_PROFILES=embedded` narrows a local run. */
export const PROFILES: Profile[] = (process.env.TEST_PROFILES ?? 'embedded,full')
  .split(',')
  .map((p) => p.trim())
  .filter((p): p is Profile => p === 'embedded' || p === 'full');

export const MYSQL_ADMIN_URL = process.env.TEST_MYSQL_URL ?? 'mysql://root@127.0.0.1:3306';
export const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
export const AMQP_BASE = process.env.TEST_AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672';

export interface TestEnvOptions {
  /** Full profile: use Redis (default true). */
  redis?: boolean;
  /** Full profile: use RabbitMQ in a private vhost (default false). */
  amqp?: boolean;
  /** Override the Redis URL (e.g. a TCP proxy in front of Redis). */
  redisUrl?: string;
  /** Override the AMQP URL host part (e.g. a proxy); the private vhost is appended. */
  amqpBase?: string;
  /** Extra environment variables. */
  env?: Record<string, string>;
}

/**
 * Private resources for one suite: a temp DATA_DIR, and on the full profile a fresh MariaDB
 * database, a Redis key prefix and optionally a RabbitMQ vhost. `cleanup()` drops them all.
 * Never touches anything it did not create.
 */
export interface TestEnv {
  profile: Profile;
  id: string;
  env: Record<string, string>;
  dataDir: string;
  dbName?: string;
  redisPrefix?: string;
  vhost?: string;
  cleanup(): Promise<void>;
}

export async function createTestEnv(profile: Profile, opts: TestEnvOptions = {}): Promise<TestEnv> {
  const id = `t${Date.now().toString(36)}${randomBytes(3).toString('hex')}`;
  const dataDir = mkdtempSync(join(tmpdir(), `fsv-${id}-`));
  const env: Record<string, string> = {
    NODE_ENV: 'test',
    DATA_DIR: dataDir,
    JWT_SECRET: 'test-secret-test-secret-test-secret-0123',
    RATE_LIMITS: 'off',
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'error',
    PORT: '0',
  };
  const t: TestEnv = {
    profile,
    id,
    env,
    dataDir,
    cleanup: async () => rmSync(dataDir, { recursive: true, force: true }),
  };
  if (profile === 'embedded') {
    Object.assign(env, opts.env ?? {});
    return t;
  }
  t.dbName = `fsv_${id}`;
  const c = await createConnection(MYSQL_ADMIN_URL);
  await c.query(`CREATE DATABASE \`${t.dbName}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci`);
  await c.end();
  env.DATABASE_URL = `${MYSQL_ADMIN_URL}/${t.dbName}`;
  if (opts.redis !== false) {
    t.redisPrefix = `fsv:${id}:`;
    env.REDIS_URL = opts.redisUrl ?? REDIS_URL;
    env.REDIS_KEY_PREFIX = t.redisPrefix;
  }
  if (opts.amqp) {
    t.vhost = `fsv_${id}`;
    await run('rabbitmqctl', ['-q', 'add_vhost', t.vhost]);
    await run('rabbitmqctl', ['-q', 'set_permissions', '-p', t.vhost, 'guest', '.*', '.*', '.*']);
    env.AMQP_URL = `${opts.amqpBase ?? AMQP_BASE}/${t.vhost}`;
  }
  Object.assign(env, opts.env ?? {});
  t.cleanup = async () => {
    rmSync(dataDir, { recursive: true, force: true });
    const conn = await createConnection(MYSQL_ADMIN_URL);
    await conn.query(`DROP DATABASE IF EXISTS \`${t.dbName}\``);
    await conn.end();
    if (t.redisPrefix) await deleteRedisPrefix(t.redisPrefix);
    if (t.vhost) await run('rabbitmqctl', ['-q', 'delete_vhost', t.vhost]).catch(() => undefined);
  };
  return t;
}

export async function deleteRedisPrefix(prefix: string): Promise<void> {
  const r = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1 });
  await r.connect();
  try {
    let cursor = '0';
    do {
      const [next, keys] = await r.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length) await r.del(...keys);
    } while (cursor !== '0');
  } finally {
    r.disconnect();
  }
}

/** A raw Redis client for assertions (remember the suite's key prefix). */
export function redisClient(): Redis {
  return new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
}
