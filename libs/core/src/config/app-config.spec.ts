import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, isIpOrCidr, loadConfig, parseRateLimits, parseSize } from './app-config';

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
    expect(c.uploadQuotaBytes).toBe(2 * 1024 ** 3);
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
    ['TRUSTED_PROXIES', '10.0.0.0/99'],
    ['TRUSTED_PROXIES', '10.0.0.0/33'],
    ['TRUSTED_PROXIES', '::/129'],
    ['METRICS_PORT', 'x'],
    ['METRICS_PORT', '8080'],
    ['REQUEST_TIMEOUT', '0'],
    ['UPLOAD_TIMEOUT', '1'],
    ['IDLE_TIMEOUT', 'soon'],
    ['KEEP_ALIVE_TIMEOUT', '-5'],
    ['MAX_CONNECTIONS_PER_IP', '-1'],
    ['PUBLIC_BASE_URL', 'ftp://x'],
    ['LOG_LEVEL', 'loud'],
    ['REDIS_KEY_PREFIX', 'has space'],
    ['REDIS_TIMEOUT_MS', '1'],
    ['MAX_DELIVERIES', '-1'],
    ['DEDUPE_RETENTION', '1w'],
    ['DB_STATEMENT_TIMEOUT_MS', '3s'],
    ['WORKER_HTTP_PORT', '70000'],
    ['RECONCILE_EVERY', 'often'],
    ['AMQP_QUEUE_TYPE', 'stream'],
    ['UPLOAD_QUOTA', '2 gallons'],
    ['UPLOAD_QUOTA', '0'],
    ['REDIS_CLUSTER_NODES', '127.0.0.1'],
    ['REDIS_CLUSTER_NODES', '127.0.0.1:7000,127.0.0.1:70000'],
    ['DATABASE_REPLICA_URLS', 'postgres://x/y'],
    ['REPLICA_MAX_LAG', 'soon'],
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

  it('HTTP_FAST_READS is on by default, and true/false/1/0 in any case', () => {
    expect(loadConfig(base()).httpFastReads).toBe(true);
    expect(loadConfig({ ...base(), HTTP_FAST_READS: 'FALSE' }).httpFastReads).toBe(false);
    expect(loadConfig({ ...base(), HTTP_FAST_READS: '0' }).httpFastReads).toBe(false);
    expect(loadConfig({ ...base(), HTTP_FAST_READS: '1' }).httpFastReads).toBe(true);
    expect(() => loadConfig({ ...base(), HTTP_FAST_READS: 'sometimes' })).toThrow(/HTTP_FAST_READS/);
  });

  it('HTTP limits and metrics have defaults and are read from the environment', () => {
    const d = loadConfig(base());
    expect(d.metricsPort).toBeNull();
    expect(d.http).toEqual({
      requestTimeoutMs: 10_000,
      uploadTimeoutMs: 600_000,
      idleTimeoutMs: 60_000,
      keepAliveTimeoutMs: 72_000,
      maxConnectionsPerIp: 512,
      shutdownDrainMs: 10_000,
    });
    const c = loadConfig({
      ...base(),
      METRICS_PORT: '9464',
      REQUEST_TIMEOUT: '5s',
      UPLOAD_TIMEOUT: '30m',
      IDLE_TIMEOUT: '2m',
      KEEP_ALIVE_TIMEOUT: '65',
      MAX_CONNECTIONS_PER_IP: '0',
      SHUTDOWN_DRAIN: '25s',
    });
    expect(c.metricsPort).toBe(9464);
    expect(c.http).toEqual({
      requestTimeoutMs: 5_000,
      uploadTimeoutMs: 1_800_000,
      idleTimeoutMs: 120_000,
      keepAliveTimeoutMs: 65_000,
      maxConnectionsPerIp: 0,
      shutdownDrainMs: 25_000,
    });
  });

  it('a JWT_SECRET of at least 32 bytes is required whenever NODE_ENV is not development/test', () => {
    for (const nodeEnv of ['staging', 'production', 'preview']) {
      expect(() => loadConfig({ DATA_DIR: dataDir, NODE_ENV: nodeEnv, JWT_SECRET: 'a' })).toThrow(
        /JWT_SECRET/,
      );
      expect(() => loadConfig({ DATA_DIR: dataDir, NODE_ENV: nodeEnv })).toThrow(/JWT_SECRET/);
    }
    expect(loadConfig({ DATA_DIR: dataDir, NODE_ENV: 'test', JWT_SECRET: 'short' }).jwtSecret).toBe('short');
  });

  it('creates a missing DATA_DIR 0700 and the SQLite file 0600', () => {
    const fresh = join(dataDir, 'a', 'b');
    const c = loadConfig({ DATA_DIR: fresh, JWT_SECRET: 'x'.repeat(40) });
    expect(statSync(fresh).mode & 0o777).toBe(0o700);
    expect(statSync(join(dataDir, 'a')).mode & 0o777).toBe(0o700);
    expect(c.database.type === 'sqlite' && statSync(c.database.path).mode & 0o777).toBe(0o600);
  });

  it('isIpOrCidr checks the prefix length against the address family', () => {
    for (const ok of ['10.0.0.1', '10.0.0.0/8', '0.0.0.0/0', '::1', 'fd00::/8', '::/128'])
      expect(isIpOrCidr(ok)).toBe(true);
    for (const bad of ['10.0.0.0/33', '::/129', '10.0.0.1/', '/8', '10.0.0.0/8/1', 'host/8', '10.0.0.0/+8']) {
      expect(isIpOrCidr(bad)).toBe(false);
    }
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
    expect(c.redisClusterNodes).toBeNull();
    expect(c.databaseReplicaUrls).toEqual([]);
    expect(c.replicaMaxLagSeconds).toBe(5);
  });

  it('the worker and database bounds: defaults, values and off', () => {
    const d = loadConfig(base());
    expect(d.dbStatementTimeoutMs).toBe(2000);
    expect(d.workerHttpPort).toBe(8081);
    expect(d.reconcileEveryMs).toBe(30_000);
    expect(d.amqpQueueType).toBe('classic');
    const c = loadConfig({
      ...base(),
      DB_STATEMENT_TIMEOUT_MS: '0',
      WORKER_HTTP_PORT: 'off',
      RECONCILE_EVERY: '5m',
      AMQP_QUEUE_TYPE: 'quorum',
    });
    expect(c.dbStatementTimeoutMs).toBe(0);
    expect(c.workerHttpPort).toBeNull();
    expect(c.reconcileEveryMs).toBe(300_000);
    expect(c.amqpQueueType).toBe('quorum');
    expect(loadConfig({ ...base(), RECONCILE_EVERY: 'off' }).reconcileEveryMs).toBeNull();
  });

  it('REDIS_CLUSTER_NODES selects a cluster; a brace in the key prefix is refused with it', () => {
    const c = loadConfig({
      ...base(),
      REDIS_CLUSTER_NODES: '10.0.0.1:7000, redis-b:7001,[::1]:7002',
      REDIS_KEY_PREFIX: 'app:',
    });
    expect(c.redisClusterNodes).toEqual([
      { host: '10.0.0.1', port: 7000 },
      { host: 'redis-b', port: 7001 },
      { host: '::1', port: 7002 },
    ]);
    expect(() =>
      loadConfig({ ...base(), REDIS_CLUSTER_NODES: '10.0.0.1:7000', REDIS_KEY_PREFIX: '{app}:' }),
    ).toThrow(/REDIS_KEY_PREFIX/);
    expect(loadConfig({ ...base(), REDIS_KEY_PREFIX: '{app}:' }).redisKeyPrefix).toBe('{app}:');
    expect(c.redisClusterAuth).toEqual({ username: undefined, password: undefined, tls: false });
    const secured = loadConfig({
      ...base(),
      REDIS_CLUSTER_NODES: 'rediss://app:p%40ss@10.0.0.1:7000,10.0.0.2:7000',
    });
    expect(secured.redisClusterNodes).toEqual([
      { host: '10.0.0.1', port: 7000 },
      { host: '10.0.0.2', port: 7000 },
    ]);
    expect(secured.redisClusterAuth).toEqual({ username: 'app', password: 'p@ss', tls: true });
    expect(() => loadConfig({ ...base(), REDIS_CLUSTER_NODES: 'redis://app:secret@10.0.0.1' })).toThrow(
      /REDIS_CLUSTER_NODES.*\*\*\*/,
    );
  });

  it('DATABASE_REPLICA_URLS lists MySQL replicas (a MySQL primary required); REPLICA_MAX_LAG in seconds', () => {
    const c = loadConfig({
      ...base(),
      DATABASE_URL: 'mysql://root@10.0.0.1:3306/db',
      DATABASE_REPLICA_URLS: 'mysql://ro:pw@10.0.0.2:3306/db, mysql://ro:pw@10.0.0.3:3306/db',
      REPLICA_MAX_LAG: '2m',
    });
    expect(c.databaseReplicaUrls).toEqual([
      'mysql://ro:pw@10.0.0.2:3306/db',
      'mysql://ro:pw@10.0.0.3:3306/db',
    ]);
    expect(c.replicaMaxLagSeconds).toBe(120);
    let err: unknown;
    try {
      loadConfig({ ...base(), DATABASE_REPLICA_URLS: 'mysql://ro:secret@10.0.0.2:3306/db' });
    } catch (e) {
      err = e;
    }
    expect((err as ConfigError).variable).toBe('DATABASE_REPLICA_URLS');
    expect((err as Error).message).not.toContain('secret');
    expect(() =>
      loadConfig({
        ...base(),
        DATABASE_URL: 'mysql://root@h/db',
        DATABASE_REPLICA_URLS: 'mysql://ro:secret@h',
      }),
    ).toThrow(/DATABASE_REPLICA_URLS.*\*\*\*/);
  });
});

describe('parseSize (UPLOAD_QUOTA)', () => {
  it('reads bytes and binary units', () => {
    expect(parseSize('UPLOAD_QUOTA', '1048576')).toBe(1024 ** 2);
    expect(parseSize('UPLOAD_QUOTA', '500MiB')).toBe(500 * 1024 ** 2);
    expect(parseSize('UPLOAD_QUOTA', '2G')).toBe(2 * 1024 ** 3);
    expect(parseSize('UPLOAD_QUOTA', '1 TiB')).toBe(1024 ** 4);
    expect(() => parseSize('UPLOAD_QUOTA', '2PiB')).toThrow(/UPLOAD_QUOTA/);
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
    expect(r.message).toEqual({ limit: 30, windowSeconds: 60 });
    expect(parseRateLimits('message=2/60').message).toEqual({ limit: 2, windowSeconds: 60 });
  });

  it('publish, which SPEC does not limit, is off unless set', () => {
    expect(parseRateLimits(undefined).publish).toBeNull();
    expect(parseRateLimits('publish=30/60').publish).toEqual({ limit: 30, windowSeconds: 60 });
  });
});

describe('STORAGE, S3_* and MEDIA_BASE_URL', () => {
  let dataDir: string;
  const s3 = { STORAGE: 's3', S3_BUCKET: 'media' };
  const load = (env: Record<string, string>) =>
    loadConfig({ DATA_DIR: dataDir, JWT_SECRET: 'x'.repeat(40), ...env });
  beforeEach(() => {
    dataDir = mkdtempSync(join(tmpdir(), 'fsv-config-'));
  });
  afterEach(() => rmSync(dataDir, { recursive: true, force: true }));

  it('local disk by default, media URLs under /static', () => {
    const c = load({});
    expect(c.storage).toEqual({ type: 'local' });
    expect(c.mediaBaseUrl).toBeNull();
    expect(load({ STORAGE: 'local' }).storage).toEqual({ type: 'local' });
  });

  it('s3: a bucket, region us-east-1 and the default credential chain unless given; path style with a custom endpoint', () => {
    expect(load(s3).storage).toEqual({
      type: 's3',
      endpoint: null,
      region: 'us-east-1',
      bucket: 'media',
      credentials: null,
      forcePathStyle: false,
    });
    const c = load({
      ...s3,
      S3_ENDPOINT: 'http://127.0.0.1:9000/',
      S3_REGION: 'eu-west-3',
      S3_ACCESS_KEY_ID: 'AKID',
      S3_SECRET_ACCESS_KEY: 'secret',
      MEDIA_BASE_URL: 'https://cdn.example.com/media/',
    });
    expect(c.storage).toEqual({
      type: 's3',
      endpoint: 'http://127.0.0.1:9000',
      region: 'eu-west-3',
      bucket: 'media',
      credentials: { accessKeyId: 'AKID', secretAccessKey: 'secret' },
      forcePathStyle: true,
    });
    expect(c.mediaBaseUrl).toBe('https://cdn.example.com/media');
    expect(
      load({ ...s3, S3_ENDPOINT: 'http://minio:9000', S3_FORCE_PATH_STYLE: 'false' }).storage,
    ).toMatchObject({
      forcePathStyle: false,
    });
    expect(load({ ...s3, S3_FORCE_PATH_STYLE: '1' }).storage).toMatchObject({ forcePathStyle: true });
    // a CDN in front of local files too
    expect(load({ MEDIA_BASE_URL: 'http://cdn.local' }).mediaBaseUrl).toBe('http://cdn.local');
  });

  it.each([
    ['STORAGE', { STORAGE: 'gcs' }],
    ['STORAGE', { S3_BUCKET: 'media' }],
    ['STORAGE', { STORAGE: 'local', S3_ENDPOINT: 'http://127.0.0.1:9000' }],
    ['S3_BUCKET', { STORAGE: 's3' }],
    ['S3_BUCKET', { ...s3, S3_BUCKET: 'Not_A_Bucket' }],
    ['S3_ENDPOINT', { ...s3, S3_ENDPOINT: '127.0.0.1:9000' }],
    ['S3_REGION', { ...s3, S3_REGION: 'eu west' }],
    ['S3_ACCESS_KEY_ID', { ...s3, S3_SECRET_ACCESS_KEY: 'secret' }],
    ['S3_SECRET_ACCESS_KEY', { ...s3, S3_ACCESS_KEY_ID: 'AKID' }],
    ['S3_FORCE_PATH_STYLE', { ...s3, S3_FORCE_PATH_STYLE: 'maybe' }],
    ['MEDIA_BASE_URL', { MEDIA_BASE_URL: 'cdn.example.com' }],
    ['MEDIA_BASE_URL', { ...s3, MEDIA_BASE_URL: 'ftp://cdn.example.com' }],
  ])('a bad combination stops with a message naming %s (%p)', (name, env) => {
    let err: unknown;
    try {
      load(env);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).variable).toBe(name);
    expect((err as Error).message).toContain(name);
  });
});
