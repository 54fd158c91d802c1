import { expectError, startApp, TestApp } from '../helpers/test-app';
import { TcpProxy } from '../helpers/tcp-proxy';
import { PROFILES } from '../helpers/test-env';

const PW = 'secret123';
const ENV = {
  RATE_LIMITS:
    'login=3/60,loginUser=2/60,register=2/3600,refresh=2/60,rename=2/3600,profile=3/60,follow=2/60,message=2/60',
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
  const registered = async (username: string): Promise<void> => {
    await t.http
      .post('/account/register')
      .set('X-Forwarded-For', nextIp())
      .send({ username, password: PW })
      .expect(200);
  };

  beforeAll(async () => {
    t = await startApp(profile, { env: ENV });
    await registered('rl_a');
    await registered('rl_b');
  });
  afterAll(async () => {
    await t?.close();
  });

  it('login: only failed attempts count, 3/min per address, then 429 with Retry-After', async () => {
    const from = nextIp();
    for (let i = 0; i < 6; i++) expect((await login(from, 'rl_b')).status).toBe(200);
    expect((await login(from, 'rl_a', 'wrong-pw')).status).toBe(401);
    expect((await login(from, 'nobody_x')).status).toBe(401);
    expect((await login(from, 'nobody_y')).status).toBe(401);
    expect429(await login(from, 'rl_b'));
    expect((await login(nextIp(), 'rl_b')).status).toBe(200);
  });

  it('login: 2 failures/min per (username, address); others’ failures never lock the account out', async () => {
    await registered('rl_u');
    const attacker = nextIp();
    expect((await login(attacker, 'rl_u', 'guess-1')).status).toBe(401);
    expect((await login(attacker, 'RL_U', 'guess-2')).status).toBe(401);
    // The pair is limited, whatever the password and the case of the name.
    expect429(await login(attacker, 'Rl_U'));
    // The owner, from another address, logs in at once (issue 12 #4).
    expect((await login(nextIp(), 'rl_u')).status).toBe(200);
    // The attacker's address may still try other names (its own limit is 3).
    expect((await login(attacker, 'rl_a')).status).toBe(200);
  });

  it('changePassword shares login’s counters; its failures (400 old_password) count', async () => {
    const from = nextIp();
    for (let i = 0; i < 3; i++) expect((await login(from, `someone${i}`)).status).toBe(401);
    expect429(
      await t.http
        .post('/account/changePassword')
        .set('X-Forwarded-For', from)
        .send({ username: 'rl_b', old_password: PW, new_password: 'whatever-1' }),
    );
    const other = nextIp();
    for (let i = 0; i < 3; i++) {
      const res = await t.http
        .post('/account/changePassword')
        .set('X-Forwarded-For', other)
        .send({ username: 'rl_a', old_password: `wrong-${i}`, new_password: 'whatever-1' });
      expect(res.status).toBe(i < 2 ? 400 : 429);
    }
  });

  it('body shape (400) comes before the rate limit (429), and a refused body is not counted', async () => {
    const from = nextIp();
    for (let i = 0; i < 3; i++) await login(from, `x${i}`);
    expectError(
      await t.http.post('/account/login').set('X-Forwarded-For', from).send({ username: 5 }),
      400,
      'VALIDATION_FAILED',
    );
    expect429(await login(from, 'x9'));
    const clean = nextIp();
    for (let i = 0; i < 10; i++) {
      expectError(
        await t.http
          .post('/account/login')
          .set('X-Forwarded-For', clean)
          .send({ username: 'u'.repeat(65 + i), password: PW }),
        400,
        'VALIDATION_FAILED',
      );
    }
    expect((await login(clean, 'rl_a')).status).toBe(200);
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

  it('rename: 2/hour and updateProfile: 3/min per account (issue 12 #16)', async () => {
    await registered('rl_r');
    let token = (await login(nextIp(), 'rl_r')).body.token as string;
    for (const name of ['rl_r2', 'rl_r3']) {
      const res = await t.http
        .post('/account/rename')
        .set('Authorization', `Bearer ${token}`)
        .send({ new_username: name })
        .expect(200);
      token = res.body.token;
    }
    expect429(
      await t.http
        .post('/account/rename')
        .set('Authorization', `Bearer ${token}`)
        .send({ new_username: 'rl_r4' }),
    );
    for (let i = 0; i < 3; i++) {
      await t.http
        .post('/account/updateProfile')
        .set('Authorization', `Bearer ${token}`)
        .send({ bio: `b${i}` })
        .expect(200);
    }
    expect429(
      await t.http.post('/account/updateProfile').set('Authorization', `Bearer ${token}`).send({ bio: 'x' }),
    );
    // Keyed by account: another account from the same address is not limited.
    await registered('rl_s');
    const other = (await login(nextIp(), 'rl_s')).body.token as string;
    await t.http
      .post('/account/updateProfile')
      .set('Authorization', `Bearer ${other}`)
      .send({ bio: 'y' })
      .expect(200);
  });

  it('a self-follow or a message to oneself is a 400 before the limit and at it, and never counts (SPEC §1, §3)', async () => {
    const me = (
      await t.http
        .post('/account/register')
        .set('X-Forwarded-For', nextIp())
        .send({ username: 'rl_self', password: PW })
        .expect(200)
    ).body.id as number;
    const token = (await login(nextIp(), 'rl_self')).body.token as string;
    const as = (path: string, body: object) =>
      t.http.post(path).set('Authorization', `Bearer ${token}`).send(body);
    const follow = (id: number) => as('/social/follow', { vlogger_id: id });
    const message = (id: number) => as('/message/send', { to_id: id, content: 'hi' });
    const others = [1, 2].map(async (i) =>
      t.http
        .post('/account/register')
        .set('X-Forwarded-For', nextIp())
        .send({ username: `rl_self${i}`, password: PW })
        .expect(200),
    );
    const [a, b] = (await Promise.all(others)).map((r) => r.body.id as number);
    // Below the limit: 400s, uncounted, so the two real ones still pass.
    for (let i = 0; i < 3; i++) {
      expectError(await follow(me), 400, 'VALIDATION_FAILED', /vlogger_id cannot be yourself/);
      expectError(await message(me), 400, 'VALIDATION_FAILED', /to_id cannot be yourself/);
    }
    await follow(a).expect(200);
    await as('/social/unfollow', { vlogger_id: a }).expect(200);
    await message(a).expect(200);
    await message(b).expect(200);
    // At the limit: others are 429, the self-references still their 400.
    expect429(await follow(b));
    expect429(await message(a));
    expectError(await follow(me), 400, 'VALIDATION_FAILED', /vlogger_id cannot be yourself/);
    expectError(await message(me), 400, 'VALIDATION_FAILED', /to_id cannot be yourself/);
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
