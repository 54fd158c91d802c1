import { expectError, startApp, TestApp } from '../helpers/test-app';
import { TcpProxy } from '../helpers/tcp-proxy';
import { PROFILES } from '../helpers/test-env';

const PW = 'secret123';
const ENV = {
  RATE_LIMITS: 'login=3/60,loginUser=4/60,register=2/3600,refresh=2/60',
  TRUSTED_PROXIES: '127.0.0.1,::1,::ffff:127.0.0.1',
};

function expect429(res: { status: number; body: unknown; headers: Record<string, string> }): void {
  expectError(res, 429, 'RATE_LIMITED');
  const wait = Number(res.headers['retry-after']);
  expect(wait).toBeGreaterThanOrEqual(1);
  expect(wait).toBeLessThanOrEqual(3600);
}

describe.each(PROFILES)('rate limits (%s)', (profile) => {
  let t: TestApp;
  let ip = 0;
  const nextIp = (): string => `10.1.0.${++ip}`;
  const login = (from: string, username: string, password = PW) =>
    t.http.post('/account/login').set('X-Forwarded-For', from).send({ username, password });

  beforeAll(async () => {
    t = await startApp(profile, { env: ENV });
    await t.http
      .post('/account/register')
      .set('X-Forwarded-For', '10.9.9.9')
      .send({ username: 'rl_a', password: PW })
      .expect(200);
    await t.http
      .post('/account/register')
      .set('X-Forwarded-For', '10.9.9.9')
      .send({ username: 'rl_b', password: PW })
      .expect(200);
  });
  afterAll(async () => {
    await t?.close();
  });

  it('login: 3/min per IP, every attempt counts (failed ones too), then 429 with Retry-After', async () => {
    const from = nextIp();
    expect((await login(from, 'rl_a', 'wrong-pw')).status).toBe(401);
    expect((await login(from, 'nobody_x')).status).toBe(401);
    expect((await login(from, 'rl_b')).status).toBe(200);
    expect429(await login(from, 'rl_b'));
    expect((await login(nextIp(), 'rl_b')).status).toBe(200);
  });

  it('login: 4/min per username (any case), whatever the IP', async () => {
    await t.http
      .post('/account/register')
      .set('X-Forwarded-For', nextIp())
      .send({ username: 'rl_u', password: PW })
      .expect(200);
    for (let i = 0; i < 4; i++) expect((await login(nextIp(), i % 2 ? 'RL_U' : 'rl_u')).status).toBe(200);
    expect429(await login(nextIp(), 'Rl_U'));
  });

  it('changePassword shares login’s counters', async () => {
    const from = nextIp();
    for (let i = 0; i < 3; i++) await login(from, `someone${i}`);
    expect429(
      await t.http
        .post('/account/changePassword')
        .set('X-Forwarded-For', from)
        .send({ username: 'rl_b', old_password: PW, new_password: 'whatever-1' }),
    );
  });

  it('body shape (400) comes before the rate limit (429)', async () => {
    const from = nextIp();
    for (let i = 0; i < 3; i++) await login(from, `x${i}`);
    expectError(
      await t.http.post('/account/login').set('X-Forwarded-For', from).send({ username: 5 }),
      400,
      'VALIDATION_FAILED',
    );
    expect429(await login(from, 'x9'));
  });

  it('register: 2/hour per IP; refresh: 2/min per IP', async () => {
    const from = nextIp();
    for (const u of ['rl_c', 'rl_d']) {
      expect(
        (
          await t.http
            .post('/account/register')
            .set('X-Forwarded-For', from)
            .send({ username: u, password: PW })
        ).status,
      ).toBe(200);
    }
    expect429(
      await t.http
        .post('/account/register')
        .set('X-Forwarded-For', from)
        .send({ username: 'rl_e', password: PW }),
    );
    const r = nextIp();
    for (let i = 0; i < 2; i++) {
      expect(
        (await t.http.post('/account/refresh').set('X-Forwarded-For', r).send({ refresh_token: 'bad' }))
          .status,
      ).toBe(401);
    }
    expect429(await t.http.post('/account/refresh').set('X-Forwarded-For', r).send({ refresh_token: 'bad' }));
  });

  it('unlimited routes are not limited', async () => {
    const from = nextIp();
    for (let i = 0; i < 8; i++) {
      expect(
        (await t.http.post('/account/findByUsername').set('X-Forwarded-For', from).send({ username: 'rl_a' }))
          .status,
      ).toBe(200);
    }
  });
});

describe('rate limits without trusted proxies', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startApp('embedded', { env: { RATE_LIMITS: 'login=2/60,loginUser=off' } });
  });
  afterAll(async () => {
    await t?.close();
  });
  it('X-Forwarded-For from an untrusted peer is ignored (the limit still applies)', async () => {
    for (let i = 0; i < 2; i++) {
      await t.http
        .post('/account/login')
        .set('X-Forwarded-For', `10.2.0.${i}`)
        .send({ username: `u${i}`, password: PW });
    }
    expect429(
      await t.http
        .post('/account/login')
        .set('X-Forwarded-For', '10.2.0.99')
        .send({ username: 'u', password: PW }),
    );
  });
});

describe('rate limits while Redis is cut (full)', () => {
  const proxy = new TcpProxy('127.0.0.1', 6379);
  let t: TestApp;
  beforeAll(async () => {
    const port = await proxy.start();
    t = await startApp('full', {
      redisUrl: `redis://127.0.0.1:${port}`,
      env: { RATE_LIMITS: 'login=3/60,loginUser=off' },
    });
  });
  afterAll(async () => {
    await t?.close();
    await proxy.stop();
  });
  it('fall back to a per-process limiter (never fail open)', async () => {
    proxy.cut();
    for (let i = 0; i < 3; i++) {
      expect((await t.http.post('/account/login').send({ username: `n${i}`, password: PW })).status).toBe(
        401,
      );
    }
    expect429(await t.http.post('/account/login').send({ username: 'n9', password: PW }));
    proxy.restore();
  });
});
