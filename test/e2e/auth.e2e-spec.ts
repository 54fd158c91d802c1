import { createHmac } from 'node:crypto';
import { expectError, startApp, TestApp } from '../helpers/test-app';
import { PROFILES } from '../helpers/test-env';

const PW = 'secret123';

function sign(
  secret: string,
  claims: Record<string, unknown>,
  header: Record<string, unknown> = { alg: 'HS256', typ: 'JWT' },
): string {
  const b = (o: unknown): string => Buffer.from(JSON.stringify(o)).toString('base64url');
  const body = `${b(header)}.${b(claims)}`;
  return `${body}.${createHmac('sha256', secret).update(body).digest('base64url')}`;
}

describe.each(PROFILES)('JWTAuth (%s)', (profile) => {
  let t: TestApp;
  let id: number;
  let token: string;
  const me = (authorization?: string) => {
    const r = t.http.post('/account/updateProfile');
    if (authorization !== undefined) void r.set('Authorization', authorization);
    return r.send({ bio: 'hi' });
  };

  beforeAll(async () => {
    t = await startApp(profile);
    id = (await t.http.post('/account/register').send({ username: 'authuser', password: PW }).expect(200))
      .body.id;
    token = (await t.http.post('/account/login').send({ username: 'authuser', password: PW }).expect(200))
      .body.token;
  });
  afterAll(async () => {
    await t?.close();
  });

  it('accepts the current token, with the Bearer scheme in any case', async () => {
    for (const scheme of ['Bearer', 'bearer', 'BEARER', 'bEaReR']) {
      expect((await me(`${scheme} ${token}`)).status).toBe(200);
    }
  });

  it('401 missing authorization header', async () => {
    expectError(await me(), 401, 'UNAUTHENTICATED', 'missing authorization header');
  });

  it.each([['Token abc'], ['Bearer'], ['Bearer a b'], ['Basic dXNlcjpwYXNz'], ['Bearerabc.def.ghi']])(
    '401 invalid authorization header for %p',
    async (h) => {
      expectError(await me(h), 401, 'UNAUTHENTICATED', 'invalid authorization header');
    },
  );

  it('401 invalid or expired token: bad signature, garbage, another secret, alg none, expired', async () => {
    const now = Math.floor(Date.now() / 1000);
    const claims = { account_id: id, username: 'authuser', iat: now, exp: now + 3600 };
    const [h, p, s] = token.split('.');
    const flipped = `${h}.${p}.${s.slice(0, -2)}${s.endsWith('AA') ? 'BB' : 'AA'}`;
    const bad = [
      flipped,
      'abc.def.ghi',
      'not-a-jwt',
      sign('another-secret-another-secret-0123456', claims),
      sign(t.config.jwtSecret, claims, { alg: 'none', typ: 'JWT' }),
      `${Buffer.from('{"alg":"none"}').toString('base64url')}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.`,
      sign(t.config.jwtSecret, { ...claims, iat: now - 7200, exp: now - 10 }),
      sign(t.config.jwtSecret, { ...claims, account_id: 'x' }),
    ];
    for (const b of bad) {
      expectError(await me(`Bearer ${b}`), 401, 'UNAUTHENTICATED', 'invalid or expired token');
    }
  });

  it('401 token has been revoked for a well-signed token that is not the account’s current one', async () => {
    const now = Math.floor(Date.now() / 1000);
    const forged = sign(t.config.jwtSecret, {
      account_id: id,
      username: 'authuser',
      iat: now,
      exp: now + 60,
      jti: 'x',
    });
    expectError(await me(`Bearer ${forged}`), 401, 'UNAUTHENTICATED', 'token has been revoked');
    const ghost = sign(t.config.jwtSecret, {
      account_id: 424242,
      username: 'ghost',
      iat: now,
      exp: now + 60,
    });
    expectError(await me(`Bearer ${ghost}`), 401, 'UNAUTHENTICATED', 'token has been revoked');
  });

  it('public routes ignore any token, even a bad one', async () => {
    const res = await t.http.post('/account/findByID').set('Authorization', 'Bearer nonsense').send({ id });
    expect(res.status).toBe(200);
  });

  it('body shape (400) is checked before authentication (401)', async () => {
    expectError(
      await t.http.post('/account/updateProfile').set('Authorization', 'Bearer x').send({ bio: 5 }),
      400,
      'VALIDATION_FAILED',
    );
    const res = await t.http
      .post('/account/updateProfile')
      .set('content-type', 'application/json')
      .send('[1,2]');
    expectError(res, 400, 'VALIDATION_FAILED');
  });

  it('the error body has exactly error and code for a 401', async () => {
    const res = await me();
    expect(res.body).toEqual({ error: 'missing authorization header', code: 'UNAUTHENTICATED' });
    expect(res.headers['content-type']).toMatch(/application\/json/);
  });
});
