/**
 * Issue 12, findings #1 (anonymous memory exhaustion through rate-limit keys), #4 (account
 * lockout by anyone) and #16 (rename and updateProfile unlimited): each attack as reported.
 */
import { MemoryCacheStore, MAX_KEY_LENGTH } from '@app/cache';
import { freePort } from '../helpers/processes';
import { expectError, startApp, TestApp } from '../helpers/test-app';
import { createTestEnv, PROFILES, redisClient } from '../helpers/test-env';
import { metricValue, pool, postJson, spawnApiProcess } from './support';

const PW = 'secret123';
const range = (n: number): number[] => Array.from({ length: n }, (_, i) => i);

describe.each(PROFILES)('#1 rate-limit keys cannot exhaust memory (%s)', (profile) => {
  it('250 logins with ~1 MiB usernames, 1,500 with 60 KiB ones and 2,000 names leave a 128 MiB heap alive', async () => {
    const env = await createTestEnv(profile);
    const metricsPort = await freePort();
    const api = await spawnApiProcess(
      {
        ...env.env,
        NODE_ENV: 'production',
        LOG_LEVEL: 'error',
        RATE_LIMITS: 'login=10/60,loginUser=5/60',
        METRICS_PORT: String(metricsPort),
      },
      { nodeArgs: ['--max-old-space-size=128'] },
    );
    try {
      const huge = await pool(range(250), 8, (i) =>
        // Just under the old 1 MiB body limit, as in the report: 250 of them took ~300 MB before.
        postJson(
          `${api.url}/account/login`,
          JSON.stringify({ username: String(i).padEnd(1000 * 1024, 'u'), password: PW }),
        ),
      );
      // Refused at the body limit before the body is buffered (a reset while still sending is a refusal too).
      expect(huge.filter((s) => s !== 413 && s !== 'ECONNRESET' && s !== 'EPIPE')).toEqual([]);
      expect(huge.filter((s) => s === 413).length).toBeGreaterThan(200);
      // Under the new 64 KiB body limit: refused by validation before any key is built.
      const big = await pool(range(1500), 8, (i) =>
        postJson(
          `${api.url}/account/login`,
          JSON.stringify({ username: String(i).padEnd(60 * 1024, 'u'), password: PW }),
        ),
      );
      expect(new Set(big)).toEqual(new Set([400]));
      const names = await pool(range(2000), 8, (i) =>
        postJson(`${api.url}/account/login`, JSON.stringify({ username: `name_${i}`, password: PW })),
      );
      expect(names.filter((s) => s === 401)).toHaveLength(10);
      expect(names.filter((s) => s === 429)).toHaveLength(1990);

      expect(api.proc.exitCode).toBeNull();
      expect((await fetch(`${api.url}/healthz`)).status).toBe(200);
      const metrics = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
      expect(metricValue(metrics, 'nodejs_heap_size_used_bytes')).toBeLessThan(110 * 1024 * 1024);
      if (profile === 'full') {
        const redis = redisClient();
        try {
          const keys = await redis.keys(`${env.redisPrefix}rl:*`);
          // One per-address key and the ten (username, address) keys counted before the limit.
          expect(keys.length).toBeLessThanOrEqual(12);
          for (const k of keys)
            expect(k.length - (env.redisPrefix ?? '').length).toBeLessThanOrEqual(MAX_KEY_LENGTH);
        } finally {
          redis.disconnect();
        }
      }
    } finally {
      await api.stop();
      await env.cleanup();
    }
  });
});

describe('#1 the in-process fallback keeps hot counters when flooded with keys', () => {
  it('50,000 new keys evict cold ones, not a counter still in use; long keys are capped', async () => {
    const store = new MemoryCacheStore(10_000);
    try {
      for (let i = 0; i < 5; i++) await store.hit('rl:login:ip:10.0.0.1', 60_000);
      for (let i = 0; i < 50_000; i++) {
        await store.hit(`rl:login:ip:attacker-${i}`, 60_000);
        if (i % 1000 === 0) await store.hit('rl:login:ip:10.0.0.1', 60_000);
      }
      expect(store.size).toBeLessThanOrEqual(10_000);
      // 5 + 50 touches during the flood + this one: the counter was never reset.
      expect((await store.hit('rl:login:ip:10.0.0.1', 60_000)).count).toBe(56);
      await store.hit(`rl:loginUser:u:${'x'.repeat(1 << 20)}`, 60_000);
      const longest = Math.max(
        ...[...(store as unknown as { map: Map<string, unknown> }).map.keys()].map((k) => k.length),
      );
      expect(longest).toBeLessThanOrEqual(MAX_KEY_LENGTH);
    } finally {
      await store.close();
    }
  });
});

describe.each(PROFILES)('#4 lockout by anyone (%s)', (profile) => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startApp(profile, {
      env: { RATE_LIMITS: 'login=10/60,loginUser=5/60', TRUSTED_PROXIES: '127.0.0.1,::1,::ffff:127.0.0.1' },
    });
    await t.http.post('/account/register').send({ username: 'victim', password: PW }).expect(200);
  });
  afterAll(async () => {
    await t?.close();
  });
  const login = (from: string, password: string) =>
    t.http.post('/account/login').set('X-Forwarded-For', from).send({ username: 'victim', password });

  it('ten wrong passwords from one address do not lock out the owner elsewhere', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 10; i++) statuses.push((await login('10.66.0.1', `wrong-${i}`)).status);
    expect(statuses.slice(0, 5)).toEqual([401, 401, 401, 401, 401]);
    expect(new Set(statuses.slice(5))).toEqual(new Set([429]));
    expect((await login('10.66.0.2', PW)).status).toBe(200);
    // The attacker's own address stays limited for this name.
    expectError(await login('10.66.0.1', PW), 429, 'RATE_LIMITED');
    // Correct logins never count: the owner may log in again and again.
    for (let i = 0; i < 12; i++) expect((await login('10.66.0.3', PW)).status).toBe(200);
  });
});

describe.each(PROFILES)('#16 rename and updateProfile are rate limited (%s)', (profile) => {
  let t: TestApp;
  beforeAll(async () => {
    // The SPEC §3.1 defaults (10/hour, 30/min); only registration is unlimited for the setup.
    t = await startApp(profile, { env: { RATE_LIMITS: 'register=off' } });
  });
  afterAll(async () => {
    await t?.close();
  });

  it('the 11th rename in an hour and the 31st profile update in a minute are a 429', async () => {
    await t.http.post('/account/register').send({ username: 'renamer', password: PW }).expect(200);
    let token = (await t.http.post('/account/login').send({ username: 'renamer', password: PW }).expect(200))
      .body.token as string;
    for (let i = 0; i < 10; i++) {
      const res = await t.http
        .post('/account/rename')
        .set('Authorization', `Bearer ${token}`)
        .send({ new_username: `renamer${i}` })
        .expect(200);
      token = res.body.token;
    }
    expectError(
      await t.http
        .post('/account/rename')
        .set('Authorization', `Bearer ${token}`)
        .send({ new_username: 'renamerx' }),
      429,
      'RATE_LIMITED',
    );
    for (let i = 0; i < 30; i++) {
      await t.http
        .post('/account/updateProfile')
        .set('Authorization', `Bearer ${token}`)
        .send({ bio: `${i}` })
        .expect(200);
    }
    const res = await t.http
      .post('/account/updateProfile')
      .set('Authorization', `Bearer ${token}`)
      .send({ bio: 'x' });
    expectError(res, 429, 'RATE_LIMITED');
    expect(Number(res.headers['retry-after'])).toBeGreaterThanOrEqual(1);
  });

  // Last: its failures leave this address refused for logins for the rest of the minute.
  it('login, with the defaults: ten wrong passwords for one name from one address are 401s, the 11th is a 429 (SPEC §3.1: 10/min)', async () => {
    await t.http.post('/account/register').send({ username: 'tenfails', password: PW }).expect(200);
    for (let i = 0; i < 10; i++) {
      const res = await t.http.post('/account/login').send({ username: 'tenfails', password: `wrong-${i}` });
      expectError(res, 401, 'UNAUTHENTICATED', 'invalid username or password');
    }
    const eleventh = await t.http.post('/account/login').send({ username: 'tenfails', password: 'wrong-x' });
    expectError(eleventh, 429, 'RATE_LIMITED');
    expect(Number(eleventh.headers['retry-after'])).toBeGreaterThan(0);
  });
});

describe.each(PROFILES)('SPEC §3: a 400 never counts against a limit (%s)', (profile) => {
  let t: TestApp;
  beforeAll(async () => {
    // The SPEC §3 defaults (follow 20/min, updateProfile 30/min); registration unlimited for the setup.
    t = await startApp(profile, { env: { RATE_LIMITS: 'register=off' } });
  });
  afterAll(async () => {
    await t?.close();
  });

  const account = async (username: string): Promise<{ id: number; auth: string }> => {
    const id = (await t.http.post('/account/register').send({ username, password: PW }).expect(200)).body
      .id as number;
    const login = await t.http.post('/account/login').send({ username, password: PW }).expect(200);
    return { id, auth: `Bearer ${login.body.token as string}` };
  };

  it('25 self-follows and 35 empty profile updates are 400s, and the next real ones still pass', async () => {
    const me = await account('fourhundred');
    const other = await account('fourhundred2');
    for (let i = 0; i < 25; i++) {
      const res = await t.http
        .post('/social/follow')
        .set('Authorization', me.auth)
        .send({ vlogger_id: me.id });
      expectError(res, 400, 'VALIDATION_FAILED', 'vlogger_id cannot be yourself');
    }
    await t.http
      .post('/social/follow')
      .set('Authorization', me.auth)
      .send({ vlogger_id: other.id })
      .expect(200);
    for (let i = 0; i < 35; i++) {
      const res = await t.http.post('/account/updateProfile').set('Authorization', me.auth).send({});
      expectError(res, 400, 'VALIDATION_FAILED', /nothing to update/);
    }
    await t.http.post('/account/updateProfile').set('Authorization', me.auth).send({ bio: 'hi' }).expect(200);
    // The empty update is a body error: 400 before authentication (SPEC §1), with or without a token.
    expectError(
      await t.http.post('/account/updateProfile').send({}),
      400,
      'VALIDATION_FAILED',
      /nothing to update/,
    );
  });

  it('publish has no limit by default (SPEC §3.2 gives none): 60 videos from one account in a row', async () => {
    const me = await account('publisher60');
    for (let i = 0; i < 60; i++) {
      await t.http
        .post('/video/publish')
        .set('Authorization', me.auth)
        .send({
          title: `v${i}`,
          play_url: 'https://example.com/v.mp4',
          cover_url: 'https://example.com/c.jpg',
        })
        .expect(200);
    }
  });
});
