import { tokenDigest } from '@app/account';
import { expectError, startApp, TestApp } from '../helpers/test-app';
import { TcpProxy } from '../helpers/tcp-proxy';
import { redisClient } from '../helpers/test-env';
import type Redis from 'ioredis';

const PW = 'secret123';
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * Redis taken away mid-run behind a TCP proxy: login, token checks and rate limits keep working,
 * and once the breaker is open no request pays more than the Redis timeout plus a margin; after
 * restore the token cache refills.
 */
describe('Redis cut mid-run: auth keeps working (full)', () => {
  const proxy = new TcpProxy('127.0.0.1', 6379);
  let t: TestApp;
  let redis: Redis;
  let id: number;
  const key = (): string => `${t.testEnv.redisPrefix}account:${id}`;

  beforeAll(async () => {
    const port = await proxy.start();
    t = await startApp('full', {
      redisUrl: `redis://127.0.0.1:${port}`,
      env: { RATE_LIMITS: 'refresh=40/60,profile=off', REDIS_TIMEOUT_MS: '250' },
    });
    redis = redisClient();
    id = (await t.http.post('/account/register').send({ username: 'fault', password: PW }).expect(200)).body
      .id;
  });
  afterAll(async () => {
    redis?.disconnect();
    await t?.close();
    await proxy.stop();
  });

  /** One round of traffic: login, several token checks, a rate-limited request; returns each duration. */
  async function round(): Promise<{ token: string; timings: number[] }> {
    const timings: number[] = [];
    const timed = async <T>(fn: () => Promise<T>): Promise<T> => {
      const t0 = performance.now();
      const out = await fn();
      timings.push(performance.now() - t0);
      return out;
    };
    const login = await timed(() => t.http.post('/account/login').send({ username: 'fault', password: PW }));
    expect(login.status).toBe(200);
    const token = login.body.token as string;
    for (let i = 0; i < 5; i++) {
      const r = await timed(() =>
        t.http
          .post('/account/updateProfile')
          .set('Authorization', `Bearer ${token}`)
          .send({ bio: `b${i}` }),
      );
      expect(r.status).toBe(200);
    }
    const rf = await timed(() => t.http.post('/account/refresh').send({ refresh_token: 'bad' }));
    expect([401, 429]).toContain(rf.status);
    return { token, timings };
  }

  it('works before, during and after the outage; bounded latency while open; refills after', async () => {
    const before = await round();
    expect(await redis.get(key())).toBe(tokenDigest(before.token));

    proxy.cut();
    const first = await round(); // the breaker opens during this round
    expect(first.token).not.toBe(before.token);
    expectError(
      await t.http
        .post('/account/updateProfile')
        .set('Authorization', `Bearer ${before.token}`)
        .send({ bio: 'x' }),
      401,
      'UNAUTHENTICATED',
      'token has been revoked',
    );
    const slow: number[] = [];
    for (let i = 0; i < 5; i++) {
      const r = await round();
      slow.push(Math.max(...r.timings));
    }
    // Login spends ~50-100 ms on bcrypt; the Redis timeout is 250 ms; allow a margin for a loaded CI box.
    expect(Math.max(...slow)).toBeLessThan(250 + 2000);

    // Rate limits still apply while Redis is out (per-process fallback).
    let limited = false;
    for (let i = 0; i < 45 && !limited; i++) {
      limited = (await t.http.post('/account/refresh').send({ refresh_token: 'bad' })).status === 429;
    }
    expect(limited).toBe(true);

    proxy.restore();
    const deadline = Date.now() + 15000;
    let last = '';
    while (Date.now() < deadline) {
      const r = await round();
      last = r.token;
      if ((await redis.get(key())) === tokenDigest(last)) break;
      await sleep(300);
    }
    expect(await redis.get(key())).toBe(tokenDigest(last));
    const ok = await t.http
      .post('/account/updateProfile')
      .set('Authorization', `Bearer ${last}`)
      .send({ bio: 'y' });
    expect(ok.status).toBe(200);
  });
});
