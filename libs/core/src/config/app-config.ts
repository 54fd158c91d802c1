import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { join, resolve } from 'node:path';

/** One named rate limit: at most `limit` hits per `windowSeconds`. */
export interface RateLimitRule {
  limit: number;
  windowSeconds: number;
}

export type RateLimitName =
  'register' | 'login' | 'loginUser' | 'refresh' | 'like' | 'comment' | 'follow' | 'publish' | 'upload';

/** Defaults from SPEC §3; `RATE_LIMITS=login=100/60,like=off` overrides one at a time. */
export const DEFAULT_RATE_LIMITS: Record<RateLimitName, RateLimitRule | null> = {
  register: { limit: 5, windowSeconds: 3600 },
  login: { limit: 10, windowSeconds: 60 },
  loginUser: { limit: 10, windowSeconds: 60 },
  refresh: { limit: 30, windowSeconds: 60 },
  like: { limit: 30, windowSeconds: 60 },
  comment: { limit: 10, windowSeconds: 60 },
  follow: { limit: 20, windowSeconds: 60 },
  publish: { limit: 30, windowSeconds: 60 },
  upload: { limit: 30, windowSeconds: 60 },
};

export type DatabaseConfig = { type: 'sqlite'; path: string } | { type: 'mysql'; url: string };

/** Typed configuration, read once from the environment and validated at boot (both apps). */
export interface AppConfig {
  nodeEnv: string;
  port: number;
  host: string;
  dataDir: string;
  database: DatabaseConfig;
  redisUrl: string | null;
  redisKeyPrefix: string;
  redisTimeoutMs: number;
  amqpUrl: string | null;
  jwtSecret: string;
  jwtTtlSeconds: number;
  rateLimits: Record<RateLimitName, RateLimitRule | null>;
  trustedProxies: string[];
  publicBaseUrl: string | null;
  logLevel: 'debug' | 'info' | 'warn' | 'error' | 'silent';
  /** Consumer retry budget before a message is dead-lettered (SPEC §4). */
  maxDeliveries: number;
  /**
   * How long `processed_events` (the dedupe record) is kept. Must exceed the longest a copy of an
   * applied event may still wait in a queue, dead-letter replays included.
   */
  dedupeRetentionSeconds: number;
}

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

function int(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = str(env, name);
  if (raw === undefined) return fallback;
  if (!/^\d+$/.test(raw)) throw new ConfigError(name, `expected an integer, got "${raw}"`);
  const n = Number(raw);
  if (n < min || n > max) throw new ConfigError(name, `expected ${min}..${max}, got ${n}`);
  return n;
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

function loadJwtSecret(env: Env, nodeEnv: string, dataDir: string): string {
  const given = str(env, 'JWT_SECRET');
  if (given !== undefined) {
    if (nodeEnv === 'production' && Buffer.byteLength(given) < 32) {
      throw new ConfigError('JWT_SECRET', 'must be at least 32 bytes in production');
    }
    return given;
  }
  if (nodeEnv === 'production') throw new ConfigError('JWT_SECRET', 'is required when NODE_ENV=production');
  // Development: generate once and keep it in the data directory so tokens survive a restart.
  const file = join(dataDir, 'jwt-secret');
  if (existsSync(file)) return readFileSync(file, 'utf8').trim();
  mkdirSync(dataDir, { recursive: true });
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
  const amqpUrl = str(env, 'AMQP_URL') ?? null;
  if (amqpUrl !== null && !/^amqps?:\/\//.test(amqpUrl)) {
    throw new ConfigError('AMQP_URL', 'expected amqp://user:pass@host:port[/vhost]');
  }

  const trustedProxies = (str(env, 'TRUSTED_PROXIES') ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  for (const p of trustedProxies) {
    const [addr, bits] = p.split('/');
    if (isIP(addr) === 0 || (bits !== undefined && !/^\d{1,3}$/.test(bits))) {
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

  return {
    nodeEnv,
    port: int(env, 'PORT', 8080, 0, 65535),
    host: str(env, 'HOST') ?? '0.0.0.0',
    dataDir,
    database,
    redisUrl,
    redisKeyPrefix: keyPrefix,
    redisTimeoutMs: int(env, 'REDIS_TIMEOUT_MS', 250, 10, 60000),
    amqpUrl,
    jwtSecret: loadJwtSecret(env, nodeEnv, dataDir),
    jwtTtlSeconds: parseDuration('JWT_TTL', str(env, 'JWT_TTL') ?? '24h'),
    rateLimits: parseRateLimits(str(env, 'RATE_LIMITS')),
    trustedProxies,
    publicBaseUrl: publicBaseUrl?.replace(/\/+$/, '') ?? null,
    logLevel,
    maxDeliveries: int(env, 'MAX_DELIVERIES', 5, 1, 100),
    dedupeRetentionSeconds: parseDuration('DEDUPE_RETENTION', str(env, 'DEDUPE_RETENTION') ?? '7d'),
  };
}
