import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { dirname, join, resolve } from 'node:path';

/** One named rate limit: at most `limit` hits per `windowSeconds`. */
export interface RateLimitRule {
  limit: number;
  windowSeconds: number;
}

export type RateLimitName =
  | 'register'
  | 'login'
  | 'loginUser'
  | 'refresh'
  | 'like'
  | 'comment'
  | 'follow'
  | 'publish'
  | 'upload'
  | 'message'
  | 'rename'
  | 'profile';

/**
 * Defaults from SPEC §3; `RATE_LIMITS=login=100/60,like=off` overrides one at a time. SPEC gives
 * publish no limit, so it is off unless set (`publish=30/60`): a client of the contract may publish
 * any number of videos.
 */
export const DEFAULT_RATE_LIMITS: Record<RateLimitName, RateLimitRule | null> = {
  register: { limit: 5, windowSeconds: 3600 },
  login: { limit: 10, windowSeconds: 60 },
  loginUser: { limit: 10, windowSeconds: 60 },
  refresh: { limit: 30, windowSeconds: 60 },
  like: { limit: 30, windowSeconds: 60 },
  comment: { limit: 10, windowSeconds: 60 },
  follow: { limit: 20, windowSeconds: 60 },
  publish: null,
  upload: { limit: 30, windowSeconds: 60 },
  message: { limit: 30, windowSeconds: 60 },
  rename: { limit: 10, windowSeconds: 3600 },
  profile: { limit: 30, windowSeconds: 60 },
};

/** HTTP server limits (SPEC §1): how long a client may take, and how many sockets it may hold. */
export interface HttpLimits {
  /** Headers, and a JSON body, must arrive within this (else 408 and the connection is closed). */
  requestTimeoutMs: number;
  /** Any other body (multipart uploads, chunk parts) must arrive within this. */
  uploadTimeoutMs: number;
  /** A connection with no traffic either way for this long is closed. */
  idleTimeoutMs: number;
  /** How long an idle keep-alive connection waits for its next request. */
  keepAliveTimeoutMs: number;
  /** Open connections per client address (trusted proxies exempt); 0 = no cap. */
  maxConnectionsPerIp: number;
  /**
   * On SIGTERM/SIGINT the api's requests in flight get this long to finish (the HTTP server already
   * closed to new connections) before the rest are cut and the app closes.
   */
  shutdownDrainMs: number;
}

export type DatabaseConfig = { type: 'sqlite'; path: string } | { type: 'mysql'; url: string };

/** Typed configuration, read once from the environment and validated at boot (both apps). */
export interface AppConfig {
  nodeEnv: string;
  port: number;
  host: string;
  dataDir: string;
  database: DatabaseConfig;
  /** `DATABASE_REPLICA_URLS`: MySQL read replicas of `database` (feeds, lists, details); [] = none. */
  databaseReplicaUrls: string[];
  /** `REPLICA_MAX_LAG` (s): a replica further behind than this, or of unknown lag, is skipped. */
  replicaMaxLagSeconds: number;
  redisUrl: string | null;
  /** `REDIS_CLUSTER_NODES`: seed nodes of a Redis Cluster (then `redisUrl` is unused); null = not a cluster. */
  redisClusterNodes: { host: string; port: number }[] | null;
  /** Credentials and TLS for every cluster node, from `redis[s]://user:pass@host:port` entries. */
  redisClusterAuth: { username?: string; password?: string; tls: boolean };
  redisKeyPrefix: string;
  redisTimeoutMs: number;
  /**
   * `REDIS_NEAR_CACHE`: hold the token cache, liked sets, the video-list generation and getDetail
   * entries in each process, kept current by Redis's client-side caching (`CLIENT TRACKING BCAST`;
   * one server only, not a cluster). Default on.
   */
  redisNearCache: boolean;
  amqpUrl: string | null;
  jwtSecret: string;
  jwtTtlSeconds: number;
  rateLimits: Record<RateLimitName, RateLimitRule | null>;
  trustedProxies: string[];
  publicBaseUrl: string | null;
  logLevel: 'debug' | 'info' | 'warn' | 'error' | 'silent';
  /** Port of the separate Prometheus `/metrics` listener; null = metrics are not served. */
  metricsPort: number | null;
  http: HttpLimits;
  /**
   * Cacheable reads (the feeds, getDetail, listByAuthorID) answered from a Fastify hook, around
   * Nest's pipeline (`HTTP_FAST_READS`, default on; off sends every request through Nest).
   */
  httpFastReads: boolean;
  /** Consumer retry budget before a message is dead-lettered (SPEC §4). */
  maxDeliveries: number;
  /**
   * `TIMELINE_MAX_LENGTH`: newest entries kept in a follower's timeline in Redis (the following
   * feed, issue 14); 0 = no timelines (the following feed is always the SQL pull).
   */
  timelineMaxLength: number;
  /**
   * `TIMELINE_MERGE_MAX_FOLLOWS`: a following page past the viewer's timeline is merged from the
   * followed authors' time indexes in Redis when the viewer follows at most this many (one index
   * read per author); beyond it, and at 0, such a page is the SQL pull.
   */
  timelineMergeMaxFollows: number;
  /**
   * `TIMELINE_DEEP_MAX_LENGTH`: following feed entries kept per viewer in the deep parts of its
   * timeline (pages past the timeline, loaded from the database 200 at a time, 30 bytes each);
   * 0 = none (such pages are the SQL pull).
   */
  timelineDeepMaxLength: number;
  /**
   * `HOT_LIST_MAX_LENGTH`: videos a hot-list snapshot holds, the highest scores (SPEC §6, ours):
   * a build copies this many from the running window; 0 = every video active in the window.
   */
  hotListMaxLength: number;
  /**
   * `LATEST_INDEX_MAX_LENGTH`: newest videos kept in the latest index in Redis (listLatest pages,
   * issue 14; ~120 bytes of Redis each); 0 = no index (listLatest is always the SQL query).
   */
  latestIndexMaxLength: number;
  /**
   * `LIKES_INDEX_MAX_LENGTH`: most-liked videos kept in the likes-count index in Redis
   * (listLikesCount pages, issue 14); 0 = no index (listLikesCount is always the SQL query).
   */
  likesIndexMaxLength: number;
  /** `AUTHOR_INDEX_MAX_LENGTH`: newest videos kept per author index (listByAuthorID pages); 0 = none. */
  authorIndexMaxLength: number;
  /** `TAG_INDEX_MAX_LENGTH`: newest videos kept per tag index (listByTag pages); 0 = none. */
  tagIndexMaxLength: number;
  /** `FANOUT_MAX_FOLLOWERS`: an author with more followers is not pushed to timelines but merged at read. */
  fanoutMaxFollowers: number;
  /**
   * How long `processed_events` (the dedupe record) is kept. Must exceed the longest a copy of an
   * applied event may still wait in a queue, dead-letter replays included.
   */
  dedupeRetentionSeconds: number;
  /** Bytes of uploads each account may keep (`UPLOAD_QUOTA`, default 2 GiB); open chunked uploads count. */
  uploadQuotaBytes: number;
  /**
   * Most one database statement may take (MySQL) before its connection is dropped and the caller
   * gets a "database unavailable" error; also bounds the wait for a pool connection. 0 = no limit.
   */
  dbStatementTimeoutMs: number;
  /** `DB_STARTUP_WAIT_MS`: how long a process starting while the database is unreachable retries before it exits; 0 = exit at once. */
  dbStartupWaitMs: number;
  /** RabbitMQ queue type of every work, retry and dead-letter queue (`AMQP_QUEUE_TYPE`). */
  amqpQueueType: 'classic' | 'quorum';
  /** The worker's own HTTP listener (`/healthz`, `/metrics`); null = off. */
  workerHttpPort: number | null;
  /** How often the worker reconciles counters with their rows (ms); null = never. */
  reconcileEveryMs: number | null;
  /** Where uploaded files live (`STORAGE`): local disk under DATA_DIR, or an S3-compatible bucket. */
  storage: StorageConfig;
  /** `MEDIA_BASE_URL` (a CDN in front): returned media URLs are `<base>/<key>`; null = `/static/<key>`. */
  mediaBaseUrl: string | null;
}

export type StorageConfig =
  | { type: 'local' }
  | {
      type: 's3';
      /** Null: AWS's own endpoint for the region. */
      endpoint: string | null;
      region: string;
      bucket: string;
      /** Null: the SDK's default credential chain (AWS_* variables, instance or task role). */
      credentials: { accessKeyId: string; secretAccessKey: string } | null;
      forcePathStyle: boolean;
    };

export class ConfigError extends Error {
  constructor(
    readonly variable: string,
    message: string,
  ) {
    super(`Invalid environment variable ${variable}: ${message}`);
    this.name = 'ConfigError';
  }
}

type Env = Record<string, string | undefined>;

function str(env: Env, name: string): string | undefined {
  const v = env[name];
  return v === undefined || v.trim() === '' ? undefined : v.trim();
}

function oneOf<T extends string>(env: Env, name: string, values: readonly T[], fallback: T): T {
  const raw = str(env, name);
  if (raw === undefined) return fallback;
  if (!(values as readonly string[]).includes(raw))
    throw new ConfigError(name, `expected ${values.join(' or ')}, got "${raw}"`);
  return raw as T;
}

function int(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = str(env, name);
  if (raw === undefined) return fallback;
  if (!/^\d+$/.test(raw)) throw new ConfigError(name, `expected an integer, got "${raw}"`);
  const n = Number(raw);
  if (n < min || n > max) throw new ConfigError(name, `expected ${min}..${max}, got ${n}`);
  return n;
}

/** `true`/`false`/`1`/`0` (any case); absent = `fallback`. */
function flag(env: Env, name: string, fallback: boolean): boolean {
  const raw = str(env, name)?.toLowerCase();
  if (raw === undefined) return fallback;
  if (raw === 'true' || raw === '1') return true;
  if (raw === 'false' || raw === '0') return false;
  throw new ConfigError(name, `expected true or false, got "${raw}"`);
}

/** `1073741824`, `500MiB`, `2GiB` (also `K`/`M`/`G`/`T`, all binary) → bytes. */
export function parseSize(name: string, raw: string): number {
  const m = /^(\d+)\s*(?:([KMGT])(?:i?B)?|B)?$/i.exec(raw);
  if (!m) throw new ConfigError(name, `expected a size like 1073741824, 500MiB or 2GiB, got "${raw}"`);
  const exp = { '': 0, K: 1, M: 2, G: 3, T: 4 }[(m[2] ?? '').toUpperCase() as '' | 'K' | 'M' | 'G' | 'T'];
  const bytes = Number(m[1]) * 1024 ** exp;
  if (bytes <= 0 || !Number.isSafeInteger(bytes)) throw new ConfigError(name, 'must be a positive size');
  return bytes;
}

/** `90`, `90s`, `15m`, `24h`, `7d` → seconds. */
export function parseDuration(name: string, raw: string): number {
  const m = /^(\d+)\s*([smhd]?)$/.exec(raw);
  if (!m) throw new ConfigError(name, `expected a duration like 3600, 15m, 24h or 7d, got "${raw}"`);
  const unit = { '': 1, s: 1, m: 60, h: 3600, d: 86400 }[m[2] as '' | 's' | 'm' | 'h' | 'd'];
  const seconds = Number(m[1]) * unit;
  if (seconds <= 0) throw new ConfigError(name, 'must be positive');
  return seconds;
}

/** `off` | `name=limit/windowSeconds|off,...` */
export function parseRateLimits(raw: string | undefined): Record<RateLimitName, RateLimitRule | null> {
  const rules = { ...DEFAULT_RATE_LIMITS };
  if (raw === undefined) return rules;
  if (raw === 'off') {
    for (const k of Object.keys(rules) as RateLimitName[]) rules[k] = null;
    return rules;
  }
  for (const part of raw
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean)) {
    const m = /^(\w+)=(?:(off)|(\d+)\/(\d+[smhd]?))$/.exec(part);
    if (!m || !(m[1] in rules)) {
      throw new ConfigError(
        'RATE_LIMITS',
        `"${part}" is not "off" or name=limit/window (names: ${Object.keys(rules).join(', ')})`,
      );
    }
    const name = m[1] as RateLimitName;
    rules[name] = m[2] ? null : { limit: Number(m[3]), windowSeconds: parseDuration('RATE_LIMITS', m[4]) };
  }
  return rules;
}

/** Only these may run with a generated (or short) JWT secret; any other NODE_ENV is a deployment. */
const LOCAL_ENVS = ['development', 'test'];

function loadJwtSecret(env: Env, nodeEnv: string, dataDir: string): string {
  const given = str(env, 'JWT_SECRET');
  const deployed = !LOCAL_ENVS.includes(nodeEnv);
  if (given !== undefined) {
    if (deployed && Buffer.byteLength(given) < 32) {
      throw new ConfigError('JWT_SECRET', `must be at least 32 bytes when NODE_ENV=${nodeEnv}`);
    }
    return given;
  }
  if (deployed) {
    throw new ConfigError('JWT_SECRET', `is required (at least 32 bytes) when NODE_ENV=${nodeEnv}`);
  }
  // Development: generate once and keep it in the data directory so tokens survive a restart.
  const file = join(dataDir, 'jwt-secret');
  if (existsSync(file)) return readFileSync(file, 'utf8').trim();
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const secret = randomBytes(48).toString('base64url');
  writeFileSync(file, secret + '\n', { mode: 0o600, flag: 'wx' });
  return secret;
}

export function loadConfig(env: Env = process.env): AppConfig {
  const nodeEnv = str(env, 'NODE_ENV') ?? 'development';
  const dataDir = resolve(str(env, 'DATA_DIR') ?? './data');

  const dbUrl = str(env, 'DATABASE_URL');
  let database: DatabaseConfig;
  if (dbUrl === undefined) {
    database = { type: 'sqlite', path: join(dataDir, 'feedsystem.sqlite') };
  } else if (/^mysql:\/\/[^/]+\/[^/?]+/.test(dbUrl)) {
    database = { type: 'mysql', url: dbUrl };
  } else if (/^sqlite:/.test(dbUrl)) {
    database = { type: 'sqlite', path: resolve(dbUrl.replace(/^sqlite:(\/\/)?/, '')) };
  } else {
    throw new ConfigError(
      'DATABASE_URL',
      'expected mysql://user:pass@host:port/database (or unset for SQLite)',
    );
  }

  const redisUrl = str(env, 'REDIS_URL') ?? null;
  if (redisUrl !== null && !/^rediss?:\/\//.test(redisUrl)) {
    throw new ConfigError('REDIS_URL', 'expected redis://host:port[/db]');
  }
  const databaseReplicaUrls = list(env, 'DATABASE_REPLICA_URLS');
  for (const u of databaseReplicaUrls) {
    if (!/^mysql:\/\/[^/]+\/[^/?]+/.test(u)) {
      throw new ConfigError(
        'DATABASE_REPLICA_URLS',
        `"${redactUrl(u)}" is not mysql://user:pass@host:port/database`,
      );
    }
  }
  if (databaseReplicaUrls.length > 0 && database.type !== 'mysql') {
    throw new ConfigError(
      'DATABASE_REPLICA_URLS',
      'needs DATABASE_URL=mysql://… (replicas of a MySQL primary)',
    );
  }
  const clusterRaw = list(env, 'REDIS_CLUSTER_NODES');
  const clusterEntries = clusterRaw.map(parseClusterNode);
  const redisClusterNodes =
    clusterRaw.length === 0 ? null : clusterEntries.map(({ host, port }) => ({ host, port }));
  const withAuth = clusterEntries.find((e) => e.username !== undefined || e.password !== undefined);
  const redisClusterAuth = {
    username: withAuth?.username,
    password: withAuth?.password,
    tls: clusterEntries.some((e) => e.tls),
  };
  const amqpUrl = str(env, 'AMQP_URL') ?? null;
  if (amqpUrl !== null && !/^amqps?:\/\//.test(amqpUrl)) {
    throw new ConfigError('AMQP_URL', 'expected amqp://user:pass@host:port[/vhost]');
  }

  const trustedProxies = (str(env, 'TRUSTED_PROXIES') ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  for (const p of trustedProxies) {
    if (!isIpOrCidr(p)) {
      throw new ConfigError('TRUSTED_PROXIES', `"${p}" is not an IP address or CIDR range`);
    }
  }

  const publicBaseUrl = str(env, 'PUBLIC_BASE_URL') ?? null;
  if (publicBaseUrl !== null && !/^https?:\/\/[^\s]+$/.test(publicBaseUrl)) {
    throw new ConfigError('PUBLIC_BASE_URL', 'expected an http(s):// URL');
  }

  const logLevel = (str(env, 'LOG_LEVEL') ?? (nodeEnv === 'test' ? 'warn' : 'info')) as AppConfig['logLevel'];
  if (!['debug', 'info', 'warn', 'error', 'silent'].includes(logLevel)) {
    throw new ConfigError('LOG_LEVEL', 'expected debug, info, warn, error or silent');
  }

  const keyPrefix = str(env, 'REDIS_KEY_PREFIX') ?? '';
  if (/\s/.test(keyPrefix)) throw new ConfigError('REDIS_KEY_PREFIX', 'must not contain white space');
  if (redisClusterNodes && /[{}]/.test(keyPrefix)) {
    // A brace in the prefix would become (or break) the keys' hash tag: keys used together would
    // land in different slots, or every key in one.
    throw new ConfigError('REDIS_KEY_PREFIX', 'must not contain { or } with REDIS_CLUSTER_NODES');
  }

  const metricsRaw = str(env, 'METRICS_PORT');
  const metricsPort = metricsRaw === undefined ? null : int(env, 'METRICS_PORT', 0, 0, 65535);
  const port = int(env, 'PORT', 8080, 0, 65535);
  if (metricsPort !== null && metricsPort !== 0 && metricsPort === port) {
    throw new ConfigError('METRICS_PORT', 'must differ from PORT (metrics are never on the public port)');
  }
  const ms = (name: string, fallback: string): number =>
    parseDuration(name, str(env, name) ?? fallback) * 1000;
  const http: HttpLimits = {
    requestTimeoutMs: ms('REQUEST_TIMEOUT', '10s'),
    uploadTimeoutMs: ms('UPLOAD_TIMEOUT', '10m'),
    idleTimeoutMs: ms('IDLE_TIMEOUT', '60s'),
    keepAliveTimeoutMs: ms('KEEP_ALIVE_TIMEOUT', '72s'),
    maxConnectionsPerIp: int(env, 'MAX_CONNECTIONS_PER_IP', 512, 0, 1_000_000),
    shutdownDrainMs: ms('SHUTDOWN_DRAIN', '10s'),
  };
  if (http.uploadTimeoutMs < http.requestTimeoutMs) {
    throw new ConfigError('UPLOAD_TIMEOUT', 'must be at least REQUEST_TIMEOUT');
  }

  const jwtSecret = loadJwtSecret(env, nodeEnv, dataDir);
  prepareDataDir(dataDir, database);

  return {
    nodeEnv,
    port,
    host: str(env, 'HOST') ?? '0.0.0.0',
    dataDir,
    database,
    databaseReplicaUrls,
    replicaMaxLagSeconds: parseDuration('REPLICA_MAX_LAG', str(env, 'REPLICA_MAX_LAG') ?? '5s'),
    redisUrl,
    redisClusterNodes,
    redisClusterAuth,
    redisKeyPrefix: keyPrefix,
    redisTimeoutMs: int(env, 'REDIS_TIMEOUT_MS', 250, 10, 60000),
    redisNearCache: flag(env, 'REDIS_NEAR_CACHE', true),
    amqpUrl,
    jwtSecret,
    jwtTtlSeconds: parseDuration('JWT_TTL', str(env, 'JWT_TTL') ?? '24h'),
    rateLimits: parseRateLimits(str(env, 'RATE_LIMITS')),
    trustedProxies,
    publicBaseUrl: publicBaseUrl?.replace(/\/+$/, '') ?? null,
    logLevel,
    metricsPort,
    http,
    httpFastReads: flag(env, 'HTTP_FAST_READS', true),
    maxDeliveries: int(env, 'MAX_DELIVERIES', 5, 1, 100),
    timelineMaxLength: int(env, 'TIMELINE_MAX_LENGTH', 800, 0, 100_000),
    timelineMergeMaxFollows: int(env, 'TIMELINE_MERGE_MAX_FOLLOWS', 50, 0, 10_000),
    timelineDeepMaxLength: int(env, 'TIMELINE_DEEP_MAX_LENGTH', 100_000, 0, 10_000_000),
    hotListMaxLength: int(env, 'HOT_LIST_MAX_LENGTH', 10_000, 0, 10_000_000),
    latestIndexMaxLength: int(env, 'LATEST_INDEX_MAX_LENGTH', 250_000, 0, 1_000_000),
    likesIndexMaxLength: int(env, 'LIKES_INDEX_MAX_LENGTH', 10_000, 0, 1_000_000),
    authorIndexMaxLength: int(env, 'AUTHOR_INDEX_MAX_LENGTH', 1000, 0, 1_000_000),
    tagIndexMaxLength: int(env, 'TAG_INDEX_MAX_LENGTH', 2000, 0, 1_000_000),
    fanoutMaxFollowers: int(env, 'FANOUT_MAX_FOLLOWERS', 10_000, 0, 10_000_000),
    dedupeRetentionSeconds: parseDuration('DEDUPE_RETENTION', str(env, 'DEDUPE_RETENTION') ?? '7d'),
    uploadQuotaBytes: parseSize('UPLOAD_QUOTA', str(env, 'UPLOAD_QUOTA') ?? '2GiB'),
    dbStatementTimeoutMs: int(env, 'DB_STATEMENT_TIMEOUT_MS', 2000, 0, 600_000),
    dbStartupWaitMs: int(env, 'DB_STARTUP_WAIT_MS', 60_000, 0, 3_600_000),
    amqpQueueType: oneOf(env, 'AMQP_QUEUE_TYPE', ['classic', 'quorum'] as const, 'classic'),
    workerHttpPort:
      str(env, 'WORKER_HTTP_PORT') === 'off' ? null : int(env, 'WORKER_HTTP_PORT', 8081, 0, 65535),
    reconcileEveryMs:
      str(env, 'RECONCILE_EVERY') === 'off'
        ? null
        : parseDuration('RECONCILE_EVERY', str(env, 'RECONCILE_EVERY') ?? '30s') * 1000,
    ...parseStorage(env),
  };
}

const S3_VARS = [
  'S3_ENDPOINT',
  'S3_REGION',
  'S3_BUCKET',
  'S3_ACCESS_KEY_ID',
  'S3_SECRET_ACCESS_KEY',
  'S3_FORCE_PATH_STYLE',
];

/** `STORAGE=local|s3`, the bucket and how to reach it, and `MEDIA_BASE_URL`. */
export function parseStorage(env: Env): { storage: StorageConfig; mediaBaseUrl: string | null } {
  const mediaBaseUrl = str(env, 'MEDIA_BASE_URL') ?? null;
  if (mediaBaseUrl !== null && !/^https?:\/\/[^\s/]+(\/\S*)?$/.test(mediaBaseUrl)) {
    throw new ConfigError('MEDIA_BASE_URL', 'expected an http(s):// URL');
  }
  const media = mediaBaseUrl?.replace(/\/+$/, '') ?? null;
  const kind = str(env, 'STORAGE') ?? 'local';
  if (kind !== 'local' && kind !== 's3')
    throw new ConfigError('STORAGE', `expected local or s3, got "${kind}"`);
  if (kind === 'local') {
    // Files meant for a bucket silently kept on a container's disk would be lost with it.
    const stray = S3_VARS.find((n) => str(env, n) !== undefined);
    if (stray !== undefined) {
      throw new ConfigError(
        'STORAGE',
        `is local but ${stray} is set: set STORAGE=s3, or unset the S3_* variables`,
      );
    }
    return { storage: { type: 'local' }, mediaBaseUrl: media };
  }
  const bucket = str(env, 'S3_BUCKET');
  if (bucket === undefined) throw new ConfigError('S3_BUCKET', 'is required when STORAGE=s3');
  if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(bucket)) {
    throw new ConfigError(
      'S3_BUCKET',
      'expected a bucket name: 3-63 lowercase letters, digits, dots and hyphens',
    );
  }
  const endpoint = str(env, 'S3_ENDPOINT') ?? null;
  if (endpoint !== null && !/^https?:\/\/[^\s/]+(\/\S*)?$/.test(endpoint)) {
    throw new ConfigError('S3_ENDPOINT', 'expected an http(s):// URL, e.g. http://127.0.0.1:9000');
  }
  const region = str(env, 'S3_REGION') ?? 'us-east-1';
  if (!/^[\w-]+$/.test(region))
    throw new ConfigError('S3_REGION', `expected a region like us-east-1, got "${region}"`);
  const accessKeyId = str(env, 'S3_ACCESS_KEY_ID');
  const secretAccessKey = str(env, 'S3_SECRET_ACCESS_KEY');
  if (accessKeyId === undefined && secretAccessKey !== undefined) {
    throw new ConfigError('S3_ACCESS_KEY_ID', 'is required with S3_SECRET_ACCESS_KEY');
  }
  if (secretAccessKey === undefined && accessKeyId !== undefined) {
    throw new ConfigError('S3_SECRET_ACCESS_KEY', 'is required with S3_ACCESS_KEY_ID');
  }
  const pathStyle = str(env, 'S3_FORCE_PATH_STYLE')?.toLowerCase();
  if (pathStyle !== undefined) flag(env, 'S3_FORCE_PATH_STYLE', false);
  return {
    storage: {
      type: 's3',
      endpoint: endpoint?.replace(/\/+$/, '') ?? null,
      region,
      bucket,
      credentials:
        accessKeyId !== undefined && secretAccessKey !== undefined ? { accessKeyId, secretAccessKey } : null,
      // A custom endpoint (MinIO and the like) usually has no per-bucket host names.
      forcePathStyle: pathStyle === undefined ? endpoint !== null : flag(env, 'S3_FORCE_PATH_STYLE', false),
    },
    mediaBaseUrl: media,
  };
}

/** A comma-separated list, trimmed, empty entries dropped. */
function list(env: Env, name: string): string[] {
  return (str(env, name) ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}

interface ClusterNodeEntry {
  host: string;
  port: number;
  username?: string;
  password?: string;
  tls: boolean;
}

/** `host:port`, `[v6]:port`, or `redis[s]://[user:pass@]host:port` (REDIS_CLUSTER_NODES). */
function parseClusterNode(raw: string): ClusterNodeEntry {
  let rest = raw;
  let entry: Omit<ClusterNodeEntry, 'host' | 'port'> = { tls: false };
  const url = /^(rediss?):\/\/(?:([^:@/]*)(?::([^@/]*))?@)?([^/]+?)\/?$/.exec(raw);
  if (url) {
    const decode = (v: string | undefined): string | undefined => (v ? decodeURIComponent(v) : undefined);
    entry = { tls: url[1] === 'rediss', username: decode(url[2]), password: decode(url[3]) };
    rest = url[4];
  }
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^\s:/@[\]]+)):(\d{1,5})$/.exec(rest);
  const port = m ? Number(m[3]) : 0;
  if (!m || port < 1 || port > 65535) {
    throw new ConfigError(
      'REDIS_CLUSTER_NODES',
      `"${redactUrl(raw)}" is not host:port (expected host:port,host:port,…)`,
    );
  }
  return { ...entry, host: m[1] ?? m[2], port };
}

/** The URL without its password, for error messages. */
function redactUrl(url: string): string {
  return url.replace(/^(\w+:\/\/[^:/@]*:)[^@]*@/, '$1***@');
}

/** An IPv4/IPv6 address, or one with a prefix length that fits it (`10.0.0.0/8`, `fd00::/8`). */
export function isIpOrCidr(value: string): boolean {
  const m = /^([^/]+)(?:\/(\d{1,3}))?$/.exec(value);
  if (!m) return false;
  const family = isIP(m[1]);
  if (family === 0) return false;
  return m[2] === undefined || Number(m[2]) <= (family === 4 ? 32 : 128);
}

/**
 * The data directory holds the database, uploads and the generated secret: created readable by
 * this user only (0700), and a new SQLite file created 0600 (SQLite gives its -wal/-shm files the
 * database file's mode). Existing directories and files keep their mode.
 */
export function prepareDataDir(dataDir: string, database: DatabaseConfig): void {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  if (database.type !== 'sqlite' || database.path === ':memory:') return;
  mkdirSync(dirname(database.path), { recursive: true, mode: 0o700 });
  if (!existsSync(database.path)) closeSync(openSync(database.path, 'a', 0o600));
}

/**
 * `loadConfig()` for a process's entry point: a bad value prints the message naming the variable
 * and exits with status 1 (no stack trace for an operator's typo).
 */
export function loadConfigOrExit(env: Env = process.env): AppConfig {
  try {
    return loadConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(err.message);
      process.exit(1);
    }
    throw err;
  }
}
