import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, loadConfig, parseRateLimits } from './app-config';

describe('loadConfig', () => {
  let dataDir: string;
  const base = (): Record<string, string> => ({ DATA_DIR: dataDir, JWT_SECRET: 'x'.repeat(40) });
  beforeEach(() => {
    dataDir = mkdtempSync(join(tmpdir(), 'fsv-config-'));
  });
  afterEach(() => rmSync(dataDir, { recursive: true, force: true }));

  it('has working defaults (embedded profile)', () => {
    const c = loadConfig(base());
    expect(c.port).toBe(8080);
    expect(c.database).toEqual({ type: 'sqlite', path: join(dataDir, 'feedsystem.sqlite') });
    expect(c.redisUrl).toBeNull();
    expect(c.amqpUrl).toBeNull();
    expect(c.jwtTtlSeconds).toBe(24 * 3600);
    expect(c.dedupeRetentionSeconds).toBe(7 * 86400);
    expect(c.rateLimits.login).toEqual({ limit: 10, windowSeconds: 60 });
    expect(c.rateLimits.register).toEqual({ limit: 5, windowSeconds: 3600 });
  });

  it.each([
    ['PORT', 'abc'],
    ['PORT', '70000'],
    ['DATABASE_URL', 'postgres://x/y'],
    ['REDIS_URL', 'http://localhost:6379'],
    ['AMQP_URL', 'localhost:5672'],
    ['JWT_TTL', 'forever'],
    ['JWT_TTL', '0'],
    ['RATE_LIMITS', 'login=ten/60'],
    ['RATE_LIMITS', 'nosuch=1/60'],
    ['TRUSTED_PROXIES', 'not-an-ip'],
    ['TRUSTED_PROXIES', '10.0.0.0/abc'],
    ['PUBLIC_BASE_URL', 'ftp://x'],
    ['LOG_LEVEL', 'loud'],
    ['REDIS_KEY_PREFIX', 'has space'],
    ['REDIS_TIMEOUT_MS', '1'],
    ['MAX_DELIVERIES', '-1'],
    ['DEDUPE_RETENTION', '1w'],
  ])('a bad %s (%p) throws naming the variable', (name, value) => {
    let err: unknown;
    try {
      loadConfig({ ...base(), [name]: value });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).variable).toBe(name);
    expect((err as Error).message).toContain(name);
  });

  it('JWT_SECRET is required, and at least 32 bytes, in production', () => {
    expect(() => loadConfig({ DATA_DIR: dataDir, NODE_ENV: 'production' })).toThrow(/JWT_SECRET/);
    expect(() => loadConfig({ DATA_DIR: dataDir, NODE_ENV: 'production', JWT_SECRET: 'short' })).toThrow(
      /JWT_SECRET/,
    );
    expect(
      loadConfig({ DATA_DIR: dataDir, NODE_ENV: 'production', JWT_SECRET: 'y'.repeat(32) }).jwtSecret,
    ).toBe('y'.repeat(32));
  });

  it('without JWT_SECRET outside production, one is generated once and kept in DATA_DIR', () => {
    const a = loadConfig({ DATA_DIR: dataDir });
    const b = loadConfig({ DATA_DIR: dataDir });
    expect(a.jwtSecret.length).toBeGreaterThanOrEqual(32);
    expect(b.jwtSecret).toBe(a.jwtSecret);
    expect(readFileSync(join(dataDir, 'jwt-secret'), 'utf8').trim()).toBe(a.jwtSecret);
  });

  it('reads the full profile URLs and durations', () => {
    const c = loadConfig({
      ...base(),
      DATABASE_URL: 'mysql://root@127.0.0.1:3306/db',
      REDIS_URL: 'redis://127.0.0.1:6379',
      AMQP_URL: 'amqp://guest:guest@127.0.0.1:5672',
      JWT_TTL: '15m',
      DEDUPE_RETENTION: '48h',
      TRUSTED_PROXIES: '10.0.0.0/8, 127.0.0.1',
    });
    expect(c.database).toEqual({ type: 'mysql', url: 'mysql://root@127.0.0.1:3306/db' });
    expect(c.jwtTtlSeconds).toBe(900);
    expect(c.dedupeRetentionSeconds).toBe(48 * 3600);
    expect(c.trustedProxies).toEqual(['10.0.0.0/8', '127.0.0.1']);
  });
});

describe('parseRateLimits', () => {
  it('off disables every limit; overrides apply one at a time', () => {
    expect(Object.values(parseRateLimits('off')).every((r) => r === null)).toBe(true);
    const r = parseRateLimits('login=3/60,like=off,register=2/1h');
    expect(r.login).toEqual({ limit: 3, windowSeconds: 60 });
    expect(r.like).toBeNull();
    expect(r.register).toEqual({ limit: 2, windowSeconds: 3600 });
    expect(r.comment).toEqual({ limit: 10, windowSeconds: 60 });
  });
});
