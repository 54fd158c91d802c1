import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import Redis, { Cluster } from 'ioredis';
import { createConnection } from 'mysql2/promise';
import { RedisCacheStore } from '@app/cache';
import type { S3TestServer } from './s3-server';

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
/**
 * `TEST_REDIS=cluster` / `TEST_MYSQL=replica` (test/helpers/global-setup.ts) start a Redis Cluster /
 * a MariaDB primary + replica for the whole run and name them here: the full profile then uses
 * them (`REDIS_CLUSTER_NODES`; `DATABASE_URL` on the primary + `DATABASE_REPLICA_URLS`).
 */
export const REDIS_CLUSTER_NODES = process.env.TEST_REDIS_CLUSTER_NODES || undefined;
export const MYSQL_REPLICA_URLS = (process.env.TEST_MYSQL_REPLICA_URLS ?? '').split(',').filter(Boolean);

export interface TestEnvOptions {
  /** Full profile: use Redis (default true). */
  redis?: boolean;
  /** Full profile: use RabbitMQ in a private vhost (default false). */
  amqp?: boolean;
  /** Override the Redis URL (e.g. a TCP proxy in front of Redis); also wins over a test-run cluster. */
  redisUrl?: string;
  /** A Redis Cluster's `host:port,…` instead of one server (test/helpers/redis-cluster.ts). */
  redisClusterNodes?: string;
  /** Another MySQL server (root URL without database) instead of 127.0.0.1:3306, e.g. a replica pair's primary. */
  mysqlAdminUrl?: string;
  /** Root URLs of read replicas of `mysqlAdminUrl`: the app gets `DATABASE_REPLICA_URLS` on the suite's database. */
  mysqlReplicaUrls?: string[];
  /** Override the AMQP URL host part (e.g. a proxy); the private vhost is appended. */
  amqpBase?: string;
  /** Extra environment variables. */
  env?: Record<string, string>;
  /** Uploads in a private S3-compatible server started for this env (`STORAGE=s3`; test/helpers/s3-server.ts). */
  s3?: boolean;
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
  /** Set when the suite's Redis is a cluster. */
  redisClusterNodes?: string;
  vhost?: string;
  s3?: S3TestServer;
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
    WORKER_HTTP_PORT: '0',
    // `TEST_HTTP_FAST_READS=false` runs a suite's reads through Nest only (scripts/test-all.js).
    ...(process.env.TEST_HTTP_FAST_READS ? { HTTP_FAST_READS: process.env.TEST_HTTP_FAST_READS } : {}),
  };
  const t: TestEnv = {
    profile,
    id,
    env,
    dataDir,
    cleanup: async () => {
      rmSync(dataDir, { recursive: true, force: true });
      await t.s3?.dispose();
    },
  };
  if (profile === 'embedded') {
    if (opts.s3) await startS3(t);
    Object.assign(env, opts.env ?? {});
    return t;
  }
  t.dbName = `fsv_${id}`;
  const adminUrl = opts.mysqlAdminUrl ?? MYSQL_ADMIN_URL;
  const replicaUrls = opts.mysqlReplicaUrls ?? (opts.mysqlAdminUrl ? [] : MYSQL_REPLICA_URLS);
  const c = await createConnection(adminUrl);
  await c.query(`CREATE DATABASE \`${t.dbName}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci`);
  await c.end();
  env.DATABASE_URL = `${adminUrl}/${t.dbName}`;
  if (replicaUrls.length > 0) {
    await waitForDatabase(replicaUrls, t.dbName);
    env.DATABASE_REPLICA_URLS = replicaUrls.map((u) => `${u}/${t.dbName}`).join(',');
  }
  if (opts.redis !== false) {
    t.redisPrefix = `fsv:${id}:`;
    t.redisClusterNodes = opts.redisUrl ? undefined : (opts.redisClusterNodes ?? REDIS_CLUSTER_NODES);
    assertionCluster = t.redisClusterNodes;
    if (t.redisClusterNodes) env.REDIS_CLUSTER_NODES = t.redisClusterNodes;
    else env.REDIS_URL = opts.redisUrl ?? REDIS_URL;
    env.REDIS_KEY_PREFIX = t.redisPrefix;
  }
  if (opts.amqp) {
    t.vhost = `fsv_${id}`;
    await run('rabbitmqctl', ['-q', 'add_vhost', t.vhost]);
    await run('rabbitmqctl', ['-q', 'set_permissions', '-p', t.vhost, 'guest', '.*', '.*', '.*']);
    env.AMQP_URL = `${opts.amqpBase ?? AMQP_BASE}/${t.vhost}`;
  }
  if (opts.s3) await startS3(t);
  Object.assign(env, opts.env ?? {});
  t.cleanup = async () => {
    rmSync(dataDir, { recursive: true, force: true });
    await t.s3?.dispose();
    const conn = await createConnection(adminUrl);
    await conn.query(`DROP DATABASE IF EXISTS \`${t.dbName}\``);
    await conn.end();
    if (t.redisPrefix) await deleteRedisPrefix(t.redisPrefix, t.redisClusterNodes);
    if (t.vhost) await run('rabbitmqctl', ['-q', 'delete_vhost', t.vhost]).catch(() => undefined);
  };
  return t;
}

async function startS3(t: TestEnv): Promise<void> {
  // Required only here: the AWS SDK is slow to load for the suites that do not use it.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { startS3Server } = require('./s3-server') as typeof import('./s3-server');
  t.s3 = await startS3Server();
  Object.assign(t.env, t.s3.env);
}

/**
 * A cache store on the test Redis under `prefix`, connected: no command is sent before (one sent
 * while connecting fails and counts against the breaker).
 */
export async function openRedisStore(prefix: string): Promise<RedisCacheStore> {
  const store = new RedisCacheStore({ url: REDIS_URL, keyPrefix: prefix, timeoutMs: 1000 });
  for (let i = 0; i < 50 && store.state() !== 'up'; i++) await new Promise((r) => setTimeout(r, 100));
  if (store.state() !== 'up') throw new Error(`Redis at ${REDIS_URL} not up after 5 s`);
  return store;
}

/** Deletes the store's keys (its `prefix`) and closes it. */
export async function closeRedisStore(store: RedisCacheStore, prefix: string): Promise<void> {
  await deleteRedisPrefix(prefix);
  await store.close();
}

/** Deletes the prefix's keys: on one server, or on every master of a cluster (`clusterNodes`). */
export async function deleteRedisPrefix(prefix: string, clusterNodes?: string): Promise<void> {
  if (clusterNodes) {
    const cluster = new Cluster(parseNodes(clusterNodes), {
      lazyConnect: true,
      redisOptions: { maxRetriesPerRequest: 1 },
    });
    try {
      await cluster.connect();
      // SCAN sees one node; keys of one node may still be in different slots, so one DEL each.
      for (const node of cluster.nodes('master'))
        await deleteMatching(node, prefix, (keys) => Promise.all(keys.map((k) => node.del(k))));
    } finally {
      cluster.disconnect();
    }
    return;
  }
  const r = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1 });
  await r.connect();
  try {
    await deleteMatching(r, prefix, (keys) => r.del(...keys));
  } finally {
    r.disconnect();
  }
}

async function deleteMatching(
  r: Redis,
  prefix: string,
  del: (keys: string[]) => Promise<unknown>,
): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await r.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length) await del(keys);
  } while (cursor !== '0');
}

function parseNodes(nodes: string): { host: string; port: number }[] {
  return nodes.split(',').map((n) => {
    const i = n.lastIndexOf(':');
    return { host: n.slice(0, i), port: Number(n.slice(i + 1)) };
  });
}

/** The cluster of the suite's latest Redis-backed env, if it was one (a suite with its own `redisUrl` is not). */
let assertionCluster: string | undefined = REDIS_CLUSTER_NODES;

/**
 * A raw Redis client for assertions (remember the suite's key prefix): the server of the latest
 * env this suite created. On a cluster (`TEST_REDIS=cluster`) it is an ioredis `Cluster`, which
 * answers the same single-key commands (and pipelines within one slot); it is typed as `Redis` so
 * suites need not care. KEYS/SCAN on it see one node only.
 */
export function redisClient(): Redis {
  if (assertionCluster) {
    return new Cluster(parseNodes(assertionCluster), {
      redisOptions: { maxRetriesPerRequest: 1 },
    }) as unknown as Redis;
  }
  return new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
}

/** Waits until `db` exists on every replica (CREATE DATABASE replicated from the primary). */
async function waitForDatabase(replicaUrls: string[], db: string): Promise<void> {
  for (const url of replicaUrls) {
    const c = await createConnection(url);
    try {
      for (let n = 0; ; n++) {
        const [rows] = await c.query('SELECT 1 FROM information_schema.schemata WHERE schema_name = ?', [db]);
        if ((rows as unknown[]).length > 0) break;
        if (n > 200) throw new Error(`database ${db} did not reach the replica ${url}`);
        await new Promise((r) => setTimeout(r, 25));
      }
    } finally {
      await c.end();
    }
  }
}
