import { expectError, startApp, TestApp } from '../helpers/test-app';
import { TcpProxy } from '../helpers/tcp-proxy';
import { tokenDigest } from '@app/account';
import { PROFILES, redisClient } from '../helpers/test-env';
import type Redis from 'ioredis';
import { CacheStore } from '@app/cache';

const PW = 'secret123';
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function account(t: TestApp, username: string): Promise<{ id: number; token: string }> {
  const id = (await t.http.post('/account/register').send({ username, password: PW }).expect(200)).body.id;
  const token = (await t.http.post('/account/login').send({ username, password: PW }).expect(200)).body.token;
  return { id, token };
}

const check = (t: TestApp, token: string) =>
  t.http.post('/account/updateProfile').set('Authorization', `Bearer ${token}`).send({ bio: 'x' });

type Revoker = (t: TestApp, a: { id: number; token: string; name: string }) => Promise<void>;
const REVOKERS: [string, Revoker][] = [
  [
    'logout',
    async (t, a) => {
      await t.http.post('/account/logout').set('Authorization', `Bearer ${a.token}`).send({}).expect(200);
    },
  ],
  [
    'rename',
    async (t, a) => {
      await t.http
        .post('/account/rename')
        .set('Authorization', `Bearer ${a.token}`)
        .send({ new_username: `${a.name}_r` })
        .expect(200);
    },
  ],
  [
    'changePassword',
    async (t, a) => {
      await t.http
        .post('/account/changePassword')
        .send({ username: a.name, old_password: PW, new_password: 'another-pw-1' })
        .expect(200);
    },
  ],
];

describe.each(PROFILES)('token revocation (%s)', (profile) => {
  let t: TestApp;
  let redis: Redis | undefined;
  let n = 0;
  const cached = async (id: number): Promise<string | null | undefined> =>
    redis ? redis.get(`${t.testEnv.redisPrefix}account:${id}`) : undefined;

  beforeAll(async () => {
    t = await startApp(profile);
    if (profile === 'full') redis = redisClient();
  });
  afterAll(async () => {
    redis?.disconnect();
    await t?.close();
  });

  it.each(REVOKERS)('after %s the old token is revoked at once', async (_name, revoke) => {
    const name = `rv${++n}`;
    const a = await account(t, name);
    expect((await check(t, a.token)).status).toBe(200);
    if (redis) expect(await cached(a.id)).toBe(tokenDigest(a.token));
    await revoke(t, { ...a, name });
    expectError(await check(t, a.token), 401, 'UNAUTHENTICATED', 'token has been revoked');
    if (redis) expect(await cached(a.id)).not.toBe(tokenDigest(a.token));
  });

  it.each(REVOKERS)('racing requests against %s never re-cache the revoked token', async (_name, revoke) => {
    for (let round = 0; round < 5; round++) {
      const name = `race${++n}`;
      const a = await account(t, name);
      // Empty cache: every request below takes the self-heal path (database, then SET NX).
      if (redis) await redis.del(`${t.testEnv.redisPrefix}account:${a.id}`);
      const before = Array.from({ length: 25 }, () => check(t, a.token).then((r) => r.status));
      await sleep(round * 3);
      const revoked = revoke(t, { ...a, name });
      const during = Array.from({ length: 25 }, () => check(t, a.token).then((r) => r.status));
      await revoked;
      const statuses = await Promise.all([...before, ...during]);
      expect(statuses.every((s) => s === 200 || s === 401)).toBe(true);
      // Once the revocation has returned, every check is a 401, now and later.
      const after = await Promise.all(Array.from({ length: 10 }, () => check(t, a.token)));
      for (const r of after) expectError(r, 401, 'UNAUTHENTICATED', 'token has been revoked');
      if (redis) expect(await cached(a.id)).not.toBe(tokenDigest(a.token));
      await sleep(20);
      expectError(await check(t, a.token), 401, 'UNAUTHENTICATED', 'token has been revoked');
      if (redis) expect(await cached(a.id)).not.toBe(tokenDigest(a.token));
    }
  });

  it.each(REVOKERS)(
    'a self-heal that read the database before %s and writes after it cannot re-cache the token',
    async (_name, revoke) => {
      const name = `slow${++n}`;
      const a = await account(t, name);
      const store = t.app.get(CacheStore);
      await store.del(`account:${a.id}`);
      // Hold back the first request's cache write of this token until the revocation has
      // committed (the revoking request's own writes pass).
      let release!: () => void;
      const gate = new Promise<void>((r) => (release = r));
      const origSet = store.set.bind(store);
      const origSetNx = store.setNx.bind(store);
      let held = 0;
      const hold = async (v: string): Promise<void> => {
        if (v === tokenDigest(a.token) && held++ === 0) await gate;
      };
      store.set = async (k, v, ttl) => (await hold(v), origSet(k, v, ttl));
      store.setNx = async (k, v, ttl) => (await hold(v), origSetNx(k, v, ttl));
      try {
        const inFlight = check(t, a.token).then((r) => r);
        while (held === 0) await sleep(5);
        await revoke(t, { ...a, name });
        release();
        expect((await inFlight).status).toBe(200);
      } finally {
        store.set = origSet;
        store.setNx = origSetNx;
      }
      expect(await store.get(`account:${a.id}`)).not.toBe(tokenDigest(a.token));
      expectError(await check(t, a.token), 401, 'UNAUTHENTICATED', 'token has been revoked');
    },
  );
});

describe('token revocation with Redis cut (full)', () => {
  const proxy = new TcpProxy('127.0.0.1', 6379);
  let t: TestApp;
  let redis: Redis;
  let n = 0;
  const key = (id: number): string => `${t.testEnv.redisPrefix}account:${id}`;

  beforeAll(async () => {
    const port = await proxy.start();
    t = await startApp('full', { redisUrl: `redis://127.0.0.1:${port}` });
    redis = redisClient();
  });
  afterAll(async () => {
    redis?.disconnect();
    await t?.close();
    await proxy.stop();
  });
  afterEach(() => proxy.restore());

  async function waitFor(cond: () => Promise<boolean>, ms = 10000): Promise<void> {
    const end = Date.now() + ms;
    while (Date.now() < end) {
      if (await cond()) return;
      await sleep(100);
    }
    throw new Error('condition not met in time');
  }

  it.each(REVOKERS)(
    '%s while Redis is cut revokes at once, and the stale cached token stays dead after restore',
    async (_name, revoke) => {
      const name = `cut${++n}`;
      const a = await account(t, name);
      expect((await check(t, a.token)).status).toBe(200);
      expect(await redis.get(key(a.id))).toBe(tokenDigest(a.token));
      proxy.cut();
      await revoke(t, { ...a, name });
      expectError(await check(t, a.token), 401, 'UNAUTHENTICATED', 'token has been revoked');
      // Redis never saw the revocation: it still holds the old token until the app repairs it.
      expect(await redis.get(key(a.id))).toBe(tokenDigest(a.token));
      proxy.restore();
      for (let i = 0; i < 20; i++) {
        expectError(await check(t, a.token), 401, 'UNAUTHENTICATED', 'token has been revoked');
        await sleep(100);
      }
      await waitFor(async () => (await redis.get(key(a.id))) !== tokenDigest(a.token));
      expectError(await check(t, a.token), 401, 'UNAUTHENTICATED', 'token has been revoked');
    },
  );

  it('a token issued while Redis is cut works at once and is cached again after restore', async () => {
    const name = `cut${++n}`;
    await t.http.post('/account/register').send({ username: name, password: PW }).expect(200);
    proxy.cut();
    const login = await t.http.post('/account/login').send({ username: name, password: PW }).expect(200);
    const { token, account_id: id } = login.body as { token: string; account_id: number };
    expect((await check(t, token)).status).toBe(200);
    proxy.restore();
    await waitFor(async () => {
      await check(t, token).expect(200);
      return (await redis.get(key(id))) === tokenDigest(token);
    });
  });
});
