/**
 * Issue 12, findings #9 (live tokens at rest, data directory modes), #14 (weak secrets and
 * bad CIDRs accepted) and #15 (compose defaults).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tokenDigest } from '@app/account';
import { ConfigError, loadConfig } from '@app/core';
import { startApp, TestApp } from '../helpers/test-app';
import { PROFILES, redisClient } from '../helpers/test-env';
import { spawnApiProcess } from './support';

const PW = 'secret123';
const ROOT = join(__dirname, '..', '..');

describe.each(PROFILES)('#9 tokens at rest and data directory modes (%s)', (profile) => {
  let t: TestApp;
  let dataRoot: string;
  beforeAll(async () => {
    dataRoot = mkdtempSync(join(tmpdir(), 'fsv-modes-'));
    // A DATA_DIR that does not exist yet: the api creates it.
    t = await startApp(profile, { env: { DATA_DIR: join(dataRoot, 'fresh', 'data') } });
  });
  afterAll(async () => {
    await t?.close();
    rmSync(dataRoot, { recursive: true, force: true });
  });

  it('accounts.token and account:<id> hold a digest, never the token, and it still authenticates', async () => {
    await t.http.post('/account/register').send({ username: 'rest', password: PW }).expect(200);
    const { token, account_id: id } = (
      await t.http.post('/account/login').send({ username: 'rest', password: PW }).expect(200)
    ).body as { token: string; account_id: number };
    await t.http
      .post('/account/updateProfile')
      .set('Authorization', `Bearer ${token}`)
      .send({ bio: 'x' })
      .expect(200);
    const [row] = await t.sql<{ token: string }>('SELECT token FROM accounts WHERE id = ?', [id]);
    expect(row.token).toBe(tokenDigest(token));
    expect(row.token).not.toContain(token.split('.')[2]);
    if (profile === 'full') {
      const redis = redisClient();
      try {
        const cached = await redis.get(`${t.testEnv.redisPrefix}account:${id}`);
        expect(cached).toBe(tokenDigest(token));
      } finally {
        redis.disconnect();
      }
    }
  });

  it('a fresh DATA_DIR is created 0700 and the SQLite database 0600', () => {
    const dir = t.config.dataDir;
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    expect(statSync(join(dataRoot, 'fresh')).mode & 0o777).toBe(0o700);
    if (t.config.database.type === 'sqlite') {
      expect(statSync(t.config.database.path).mode & 0o777).toBe(0o600);
    }
  });
});

describe('#14 weak secrets and bad proxy ranges stop the process', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'fsv-secret-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const fails = (env: Record<string, string>, variable: string): void => {
    let err: unknown;
    try {
      loadConfig({ DATA_DIR: dir, ...env });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).variable).toBe(variable);
  };

  it('any NODE_ENV but development/test needs a JWT_SECRET of at least 32 bytes', () => {
    for (const nodeEnv of ['staging', 'production', 'prod', 'qa']) {
      fails({ NODE_ENV: nodeEnv, JWT_SECRET: 'a' }, 'JWT_SECRET');
      fails({ NODE_ENV: nodeEnv, JWT_SECRET: 'x'.repeat(31) }, 'JWT_SECRET');
      fails({ NODE_ENV: nodeEnv }, 'JWT_SECRET');
      expect(
        loadConfig({ DATA_DIR: dir, NODE_ENV: nodeEnv, JWT_SECRET: 'x'.repeat(32) }).jwtSecret,
      ).toHaveLength(32);
    }
    expect(loadConfig({ DATA_DIR: dir, NODE_ENV: 'test', JWT_SECRET: 'a' }).jwtSecret).toBe('a');
  });

  it('TRUSTED_PROXIES must be addresses or CIDRs whose prefix fits the family', () => {
    for (const p of [
      '10.0.0.0/99',
      '10.0.0.0/33',
      '::/129',
      '10.0.0.1/',
      '10.0.0.0/8/8',
      '10.0.0.0/-1',
      'x/8',
    ]) {
      fails({ TRUSTED_PROXIES: p }, 'TRUSTED_PROXIES');
    }
    expect(
      loadConfig({ DATA_DIR: dir, TRUSTED_PROXIES: '10.0.0.0/8,fd00::/8,::1,127.0.0.1/32' }).trustedProxies,
    ).toEqual(['10.0.0.0/8', 'fd00::/8', '::1', '127.0.0.1/32']);
  });

  it('the api process refuses to start with NODE_ENV=staging JWT_SECRET=a', async () => {
    const api = await spawnApiProcess(
      { NODE_ENV: 'staging', JWT_SECRET: 'a', DATA_DIR: dir },
      { wait: false },
    );
    try {
      // Bounded: an api that started anyway is stopped (finally), not left to the test's timeout.
      let timer: NodeJS.Timeout | undefined;
      const code = await Promise.race([
        api.exited,
        new Promise<string>((r) => (timer = setTimeout(() => r('still running after 30 s'), 30_000))),
      ]).finally(() => clearTimeout(timer));
      expect(code).toBe(1);
      expect(api.output()).toMatch(/JWT_SECRET: must be at least 32 bytes when NODE_ENV=staging/);
    } finally {
      await api.stop();
    }
  });
});

describe('#15 docker-compose.yml has no default secrets', () => {
  const compose = readFileSync(join(ROOT, 'docker-compose.yml'), 'utf8');
  const SECRETS = [
    'JWT_SECRET',
    'MYSQL_PASSWORD',
    'MYSQL_ROOT_PASSWORD',
    'REDIS_PASSWORD',
    'RABBITMQ_PASSWORD',
  ];

  it('every secret is `${VAR:?…}`: required, no fallback value', () => {
    for (const name of SECRETS) {
      const uses = compose.match(new RegExp(`\\$\\{${name}[^}]*\\}`, 'g')) ?? [];
      expect({ name, used: uses.length > 0 }).toEqual({ name, used: true });
      for (const u of uses) expect(u).toMatch(new RegExp(`^\\$\\{${name}:\\?`));
    }
    // No literal passwords left behind (the seed's feed/feed, rootpw).
    expect(compose).not.toMatch(/PASSWORD: feed|PASS: feed|rootpw|:feed@|-pfeed/);
    // Redis requires a password.
    expect(compose).toMatch(/--requirepass/);
  });

  it('docker-compose config fails without the secrets and passes with them (when installed)', () => {
    const probe = spawnSync('docker-compose', ['version'], { encoding: 'utf8' });
    if (probe.error) {
      // Not installed here: the text checks above are the proof.
      expect(compose).toContain('${JWT_SECRET:?');
      return;
    }
    const base = { ...process.env };
    for (const s of SECRETS) delete base[s];
    const bare = spawnSync('docker-compose', ['-f', 'docker-compose.yml', 'config', '-q'], {
      cwd: ROOT,
      env: base,
      encoding: 'utf8',
    });
    expect(bare.status).not.toBe(0);
    const env = { ...base, ...Object.fromEntries(SECRETS.map((s) => [s, 'x'.repeat(40)])) };
    execFileSync('docker-compose', ['-f', 'docker-compose.yml', 'config', '-q'], { cwd: ROOT, env });
  });
});
