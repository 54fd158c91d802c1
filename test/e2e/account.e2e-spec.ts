import { tokenDigest } from '@app/account';
import { expectError, startApp, TestApp } from '../helpers/test-app';
import { PROFILES } from '../helpers/test-env';

const PW = 'secret123';

describe.each(PROFILES)('accounts (%s)', (profile) => {
  let t: TestApp;
  let seq = 0;
  const fresh = (base = 'user'): string => `${base}${++seq}`;

  async function register(username: string, password = PW): Promise<number> {
    const res = await t.http.post('/account/register').send({ username, password });
    expect(res.status).toBe(200);
    return res.body.id as number;
  }
  async function login(
    username: string,
    password = PW,
  ): Promise<{ token: string; refresh_token: string; account_id: number }> {
    const res = await t.http.post('/account/login').send({ username, password });
    expect(res.status).toBe(200);
    return res.body;
  }
  const auth = (token: string): [string, string] => ['Authorization', `Bearer ${token}`];

  beforeAll(async () => {
    t = await startApp(profile);
  });
  afterAll(async () => {
    await t?.close();
  });

  describe('register', () => {
    it('creates an account and answers {id, username}, trimming the name', async () => {
      const name = fresh('reg');
      const res = await t.http
        .post('/account/register')
        .send({ username: `  ${name} `, password: PW, extra: 1 });
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ id: expect.any(Number), username: name });
      const rows = await t.sql<{ password_hash: string }>('SELECT password_hash FROM accounts WHERE id = ?', [
        res.body.id,
      ]);
      expect(rows[0].password_hash).toMatch(/^\$2[aby]\$10\$/);
    });

    it('accepts letters of any script, digits, _ . - and 32 characters', async () => {
      for (const username of ['Łukasz_東京.x-1', 'Ωμέγα', 'a'.repeat(32), `n${seq}_9.-`]) {
        const res = await t.http.post('/account/register').send({ username, password: PW });
        expect({ username, status: res.status }).toEqual({ username, status: 200 });
      }
    });

    it.each([
      ['empty', ''],
      ['blank', '   '],
      ['33 characters', 'b'.repeat(33)],
      ['a space inside', 'a b'],
      ['markup', '<script>'],
      ['an emoji', 'ab😀'],
      ['starting with "_"', '_abc'],
      ['starting with "."', '.abc'],
      ['made only of combining marks', '\u0301\u0302\u0303'],
      ['a zero-width joiner inside', 'ab\u200dc'],
      ['a variation selector', 'abc\ufe0f'],
      ['a combining grapheme joiner', 'abc\u034f'],
      ['a number', 12345],
      ['null', null],
    ])('400 for a username that is %s', async (_what, username) => {
      const body = expectError(
        await t.http.post('/account/register').send({ username, password: PW }),
        400,
        'VALIDATION_FAILED',
      );
      expect(body.details?.[0]?.field).toBe('username');
    });

    it('400 when the username is missing', async () => {
      const body = expectError(
        await t.http.post('/account/register').send({ password: PW }),
        400,
        'VALIDATION_FAILED',
      );
      expect(body.details).toEqual([{ field: 'username', message: 'username is required' }]);
    });

    it.each([
      ['5 bytes', '12345'],
      ['73 bytes', 'p'.repeat(73)],
      ['74 bytes of two-byte characters', 'é'.repeat(37)],
      ['a number', 12345678],
      ['missing', undefined],
    ])('400 for a password that is %s', async (_what, password) => {
      const body = expectError(
        await t.http.post('/account/register').send({ username: fresh(), password }),
        400,
        'VALIDATION_FAILED',
      );
      expect(body.details?.[0]?.field).toBe('password');
    });

    it('password length counts bytes: 6 bytes of 3-byte characters and 72 two-byte bytes are fine', async () => {
      const a = fresh('pw');
      await register(a, '東京');
      await login(a, '東京');
      const b = fresh('pw');
      await register(b, 'é'.repeat(36));
      await login(b, 'é'.repeat(36));
    });

    it('passwords are taken exactly as sent (not trimmed)', async () => {
      const name = fresh('sp');
      await register(name, '  spaced pw  ');
      expectError(
        await t.http.post('/account/login').send({ username: name, password: 'spaced pw' }),
        401,
        'UNAUTHENTICATED',
        'invalid username or password',
      );
      await login(name, '  spaced pw  ');
    });

    it('409 for a taken name, whatever its case', async () => {
      const name = fresh('Dup');
      await register(name);
      expectError(
        await t.http.post('/account/register').send({ username: name.toUpperCase(), password: PW }),
        409,
        'CONFLICT',
        'username already taken',
      );
    });

    it('NFKC: a full-width name is stored as its plain form', async () => {
      const res = await t.http
        .post('/account/register')
        .send({ username: 'ｆｕｌｌｗｉｄｔｈ１', password: PW });
      expect(res.status).toBe(200);
      expect(res.body.username).toBe('fullwidth1');
      await login('fullwidth1');
    });

    it('409 for a name that looks like a taken one (UTS #39 skeleton), in any script or width', async () => {
      await register('mallory');
      for (const lookAlike of ['mаllory', 'ｍａｌｌｏｒｙ', 'MALL0RY', 'rnallory', 'ma11ory']) {
        expectError(
          await t.http.post('/account/register').send({ username: lookAlike, password: PW }),
          409,
          'CONFLICT',
          'username already taken',
        );
      }
    });

    it('concurrent registrations of one name: exactly one succeeds, the rest are 409', async () => {
      const name = fresh('race');
      const res = await Promise.all(
        Array.from({ length: 6 }, (_, i) =>
          t.http
            .post('/account/register')
            .send({ username: i % 2 ? name : name.toUpperCase(), password: PW }),
        ),
      );
      expect(res.map((r) => r.status).sort()).toEqual([200, 409, 409, 409, 409, 409]);
    });
  });

  describe('login', () => {
    it('returns token, refresh_token, account_id and username; the name matches in any case', async () => {
      const name = fresh('Log');
      const id = await register(name);
      const res = await t.http.post('/account/login').send({ username: name.toLowerCase(), password: PW });
      expect(res.status).toBe(200);
      expect(res.body).toEqual({
        token: expect.any(String),
        refresh_token: expect.any(String),
        account_id: id,
        username: name,
      });
      const claims = JSON.parse(Buffer.from(res.body.token.split('.')[1], 'base64url').toString());
      expect(claims).toMatchObject({ account_id: id, username: name });
      expect(claims.exp - claims.iat).toBe(24 * 3600);
      const rows = await t.sql<{ token: string; refresh_token_hash: string }>(
        'SELECT token, refresh_token_hash FROM accounts WHERE id = ?',
        [id],
      );
      // Only the token's digest is stored (issue 12 #9).
      expect(rows[0].token).toBe(tokenDigest(res.body.token));
      expect(JSON.stringify(rows[0])).not.toContain(res.body.token);
      expect(rows[0].refresh_token_hash).toMatch(/^[0-9a-f]{64}$/);
      expect(JSON.stringify(rows[0])).not.toContain(res.body.refresh_token.split('.')[1]);
    });

    it('401 with one message for an unknown user and for a wrong password', async () => {
      const name = fresh();
      await register(name);
      expectError(
        await t.http.post('/account/login').send({ username: name, password: 'wrong-password' }),
        401,
        'UNAUTHENTICATED',
        'invalid username or password',
      );
      expectError(
        await t.http.post('/account/login').send({ username: fresh('nobody'), password: PW }),
        401,
        'UNAUTHENTICATED',
        'invalid username or password',
      );
    });

    it('400 for missing or mistyped fields', async () => {
      expectError(await t.http.post('/account/login').send({ username: 'x' }), 400, 'VALIDATION_FAILED');
      expectError(
        await t.http.post('/account/login').send({ username: 1, password: PW }),
        400,
        'VALIDATION_FAILED',
      );
      expectError(await t.http.post('/account/login').send({}), 400, 'VALIDATION_FAILED');
    });

    it('400 for a password over 72 bytes, which bcrypt would cut (a prefix must not log in)', async () => {
      const name = fresh('long');
      const pw = 'p'.repeat(72);
      await register(name, pw);
      await login(name, pw);
      for (const password of [`${pw}-and-more`, 'é'.repeat(37)]) {
        const body = expectError(
          await t.http.post('/account/login').send({ username: name, password }),
          400,
          'VALIDATION_FAILED',
          'password must be at most 72 bytes',
        );
        expect(body.details?.[0]?.field).toBe('password');
      }
    });

    it('a second login revokes the first token', async () => {
      const name = fresh();
      await register(name);
      const first = await login(name);
      const second = await login(name);
      expect(second.token).not.toBe(first.token);
      expectError(
        await t.http
          .post('/account/logout')
          .set(...auth(first.token))
          .send({}),
        401,
        'UNAUTHENTICATED',
        'token has been revoked',
      );
      await t.http
        .post('/account/logout')
        .set(...auth(second.token))
        .send({})
        .expect(200);
    });

    it('answers under /api too', async () => {
      const name = fresh();
      await register(name);
      const res = await t.http.post('/api/account/login').send({ username: name, password: PW });
      expect(res.status).toBe(200);
    });
  });

  describe('refresh', () => {
    it('gives a new access token (the previous one revoked); the refresh token is not rotated', async () => {
      const name = fresh();
      const id = await register(name);
      const l = await login(name);
      const r1 = await t.http.post('/account/refresh').send({ refresh_token: l.refresh_token });
      expect(r1.status).toBe(200);
      expect(r1.body).toEqual({ token: expect.any(String), account_id: id, username: name });
      expectError(
        await t.http
          .post('/account/logout')
          .set(...auth(l.token))
          .send({}),
        401,
        'UNAUTHENTICATED',
        'token has been revoked',
      );
      const r2 = await t.http.post('/account/refresh').send({ refresh_token: l.refresh_token });
      expect(r2.status).toBe(200);
      await t.http
        .post('/account/logout')
        .set(...auth(r2.body.token))
        .send({})
        .expect(200);
    });

    it('a later login replaces the refresh token with the access token (docs/SPEC.md §2: one of each)', async () => {
      const name = fresh();
      await register(name);
      const first = await login(name);
      const second = await login(name);
      expect(second.refresh_token).not.toBe(first.refresh_token);
      expectError(
        await t.http.post('/account/refresh').send({ refresh_token: first.refresh_token }),
        401,
        'UNAUTHENTICATED',
        'invalid refresh token',
      );
      expect(
        (await t.http.post('/account/refresh').send({ refresh_token: second.refresh_token })).status,
      ).toBe(200);
    });

    it.each([
      ['garbage'],
      ['1.aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa'],
      ['999999.aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa'],
    ])('401 invalid refresh token for %s', async (rt) => {
      expectError(
        await t.http.post('/account/refresh').send({ refresh_token: rt }),
        401,
        'UNAUTHENTICATED',
        'invalid refresh token',
      );
    });

    it('401 once expired', async () => {
      const name = fresh();
      const id = await register(name);
      const l = await login(name);
      await t.sql('UPDATE accounts SET refresh_expires_at = ? WHERE id = ?', [Date.now() - 1000, id]);
      expectError(
        await t.http.post('/account/refresh').send({ refresh_token: l.refresh_token }),
        401,
        'UNAUTHENTICATED',
        'invalid refresh token',
      );
    });

    it('400 when missing or not a string', async () => {
      expectError(await t.http.post('/account/refresh').send({}), 400, 'VALIDATION_FAILED');
      expectError(await t.http.post('/account/refresh').send({ refresh_token: 5 }), 400, 'VALIDATION_FAILED');
    });
  });

  describe('changePassword', () => {
    it('changes the password and revokes the access and refresh tokens', async () => {
      const name = fresh();
      await register(name);
      const l = await login(name);
      const res = await t.http
        .post('/account/changePassword')
        .send({ username: name, old_password: PW, new_password: 'new-secret-1' });
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ message: expect.any(String) });
      expectError(
        await t.http
          .post('/account/logout')
          .set(...auth(l.token))
          .send({}),
        401,
        'UNAUTHENTICATED',
        'token has been revoked',
      );
      expectError(
        await t.http.post('/account/refresh').send({ refresh_token: l.refresh_token }),
        401,
        'UNAUTHENTICATED',
        'invalid refresh token',
      );
      expectError(
        await t.http.post('/account/login').send({ username: name, password: PW }),
        401,
        'UNAUTHENTICATED',
        'invalid username or password',
      );
      await login(name, 'new-secret-1');
    });

    it('400 naming old_password for a wrong old password or an unknown user (SPEC §8.5: not a 401)', async () => {
      const name = fresh();
      await register(name);
      const l = await login(name);
      for (const body of [
        { username: name, old_password: 'wrong-pass', new_password: 'whatever1' },
        { username: fresh('ghost'), old_password: PW, new_password: 'whatever1' },
        { username: name, old_password: 'x'.repeat(73), new_password: 'whatever1' },
      ]) {
        const err = expectError(
          await t.http.post('/account/changePassword').send(body),
          400,
          'VALIDATION_FAILED',
        );
        expect(err.details?.map((d) => d.field)).toEqual(['old_password']);
      }
      // Nothing changed: the old password and the token still work.
      await login(name);
      expect(l.token).toEqual(expect.any(String));
    });

    it('400 for a bad new password (before checking the old one)', async () => {
      const name = fresh();
      await register(name);
      const body = expectError(
        await t.http
          .post('/account/changePassword')
          .send({ username: name, old_password: 'wrong', new_password: '123' }),
        400,
        'VALIDATION_FAILED',
      );
      expect(body.details?.[0]?.field).toBe('new_password');
    });
  });

  describe('findByID / findByUsername', () => {
    it('return the public Account and nothing secret', async () => {
      const name = fresh('Find');
      const id = await register(name);
      await login(name);
      const a = await t.http.post('/account/findByID').send({ id });
      expect(a.status).toBe(200);
      expect(a.body).toEqual({ id, username: name, avatar_url: '', bio: '' });
      const b = await t.http.post('/account/findByUsername').send({ username: ` ${name.toUpperCase()} ` });
      expect(b.status).toBe(200);
      expect(b.body).toEqual(a.body);
    });

    it('404 for unknown ones', async () => {
      expectError(
        await t.http.post('/account/findByID').send({ id: 987654 }),
        404,
        'NOT_FOUND',
        'account not found',
      );
      expectError(
        await t.http.post('/account/findByUsername').send({ username: fresh('nope') }),
        404,
        'NOT_FOUND',
      );
    });

    it.each([[0], [-1], [1.5], ['1'], [2 ** 53], [null], [undefined]])('400 for id %p', async (id) => {
      const body = expectError(await t.http.post('/account/findByID').send({ id }), 400, 'VALIDATION_FAILED');
      expect(body.details?.[0]?.field).toBe('id');
    });

    it('400 for a missing username', async () => {
      expectError(await t.http.post('/account/findByUsername').send({}), 400, 'VALIDATION_FAILED');
    });
  });

  describe('getProfile', () => {
    it('returns the account with video, like, follower and vlogger counts', async () => {
      const name = fresh();
      const id = await register(name);
      const now = Date.now();
      for (const likes of [2, 5]) {
        await t.sql(
          `INSERT INTO videos (author_id, username, title, description, play_url, cover_url, create_time, likes_count, comments_count, popularity)
           VALUES (?, ?, 't', '', '/static/v.mp4', '/static/c.jpg', ?, ?, 0, ?)`,
          [id, name, now, likes, likes],
        );
      }
      await t.sql('UPDATE accounts SET follower_count = 3, vlogger_count = 1 WHERE id = ?', [id]);
      const res = await t.http.post('/account/getProfile').send({ account_id: id });
      expect(res.status).toBe(200);
      expect(res.body).toEqual({
        account: { id, username: name, avatar_url: '', bio: '' },
        video_count: 2,
        total_likes: 7,
        follower_count: 3,
        vlogger_count: 1,
      });
    });

    it('zero counts for a new account; 404 unknown; 400 bad id', async () => {
      const id = await register(fresh());
      const res = await t.http.post('/account/getProfile').send({ account_id: id }).expect(200);
      expect(res.body).toMatchObject({ video_count: 0, total_likes: 0, follower_count: 0, vlogger_count: 0 });
      expectError(await t.http.post('/account/getProfile').send({ account_id: 555555 }), 404, 'NOT_FOUND');
      expectError(
        await t.http.post('/account/getProfile').send({ account_id: 'x' }),
        400,
        'VALIDATION_FAILED',
      );
    });
  });

  describe('rename', () => {
    it('renames, returns a new token and revokes the old one and the refresh token at once', async () => {
      const name = fresh();
      const id = await register(name);
      const l = await login(name);
      const newName = fresh('Renamed');
      const res = await t.http
        .post('/account/rename')
        .set(...auth(l.token))
        .send({ new_username: ` ${newName} ` });
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ token: expect.any(String) });
      const claims = JSON.parse(Buffer.from(res.body.token.split('.')[1], 'base64url').toString());
      expect(claims).toMatchObject({ account_id: id, username: newName });
      expectError(
        await t.http
          .post('/account/updateProfile')
          .set(...auth(l.token))
          .send({ bio: 'x' }),
        401,
        'UNAUTHENTICATED',
        'token has been revoked',
      );
      expectError(
        await t.http.post('/account/refresh').send({ refresh_token: l.refresh_token }),
        401,
        'UNAUTHENTICATED',
        'invalid refresh token',
      );
      const found = await t.http.post('/account/findByID').send({ id }).expect(200);
      expect(found.body.username).toBe(newName);
      await t.http.post('/account/findByUsername').send({ username: name }).expect(404);
      await login(newName);
    });

    it('renaming to one’s own name in another case is a 200', async () => {
      const name = fresh('Case');
      const id = await register(name);
      const l = await login(name);
      const res = await t.http
        .post('/account/rename')
        .set(...auth(l.token))
        .send({ new_username: name.toUpperCase() });
      expect(res.status).toBe(200);
      const found = await t.http.post('/account/findByID').send({ id }).expect(200);
      expect(found.body.username).toBe(name.toUpperCase());
    });

    it('409 when another account holds the name (any case); 400 for a bad name; 401 without a token', async () => {
      const taken = fresh('Taken');
      await register(taken);
      const name = fresh();
      await register(name);
      const l = await login(name);
      expectError(
        await t.http
          .post('/account/rename')
          .set(...auth(l.token))
          .send({ new_username: taken.toLowerCase() }),
        409,
        'CONFLICT',
        'username already taken',
      );
      expectError(
        await t.http
          .post('/account/rename')
          .set(...auth(l.token))
          // Cyrillic е (U+0435) for the Latin e: a look-alike of the taken name.
          .send({ new_username: taken.replace('e', '\u0435') }),
        409,
        'CONFLICT',
        'username already taken',
      );
      expectError(
        await t.http
          .post('/account/rename')
          .set(...auth(l.token))
          .send({ new_username: 'bad name!' }),
        400,
        'VALIDATION_FAILED',
      );
      expectError(
        await t.http.post('/account/rename').send({ new_username: fresh() }),
        401,
        'UNAUTHENTICATED',
        'missing authorization header',
      );
    });

    it('checks the body before the token (400 before 401)', async () => {
      expectError(await t.http.post('/account/rename').send({ new_username: 7 }), 400, 'VALIDATION_FAILED');
      expectError(
        await t.http.post('/account/rename').set('Authorization', 'Bearer x.y.z').send({}),
        400,
        'VALIDATION_FAILED',
      );
    });
  });

  describe('logout', () => {
    it('revokes the access and refresh tokens at once', async () => {
      const name = fresh();
      await register(name);
      const l = await login(name);
      const res = await t.http
        .post('/account/logout')
        .set(...auth(l.token))
        .send({});
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ message: expect.any(String) });
      expectError(
        await t.http
          .post('/account/logout')
          .set(...auth(l.token))
          .send({}),
        401,
        'UNAUTHENTICATED',
        'token has been revoked',
      );
      expectError(
        await t.http.post('/account/refresh').send({ refresh_token: l.refresh_token }),
        401,
        'UNAUTHENTICATED',
        'invalid refresh token',
      );
    });

    it('401 without a token', async () => {
      expectError(
        await t.http.post('/account/logout').send({}),
        401,
        'UNAUTHENTICATED',
        'missing authorization header',
      );
    });
  });

  describe('updateProfile', () => {
    let token: string;
    let id: number;
    beforeAll(async () => {
      const name = fresh('prof');
      id = await register(name);
      token = (await login(name)).token;
    });

    it('sets bio (trimmed) and returns the Account', async () => {
      const res = await t.http
        .post('/account/updateProfile')
        .set(...auth(token))
        .send({ bio: '  hello 世界  ' });
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ id, username: expect.any(String), avatar_url: '', bio: 'hello 世界' });
    });

    it('bio: 255 characters pass, emoji and all; 256 are a 400 (characters are code points)', async () => {
      const emoji = '😀'.repeat(255); // 510 UTF-16 units
      const ok = await t.http
        .post('/account/updateProfile')
        .set(...auth(token))
        .send({ bio: emoji });
      expect(ok.status).toBe(200);
      expect(ok.body.bio).toBe(emoji);
      expectError(
        await t.http
          .post('/account/updateProfile')
          .set(...auth(token))
          .send({ bio: `${emoji}x` }),
        400,
        'VALIDATION_FAILED',
      );
      await t.http
        .post('/account/updateProfile')
        .set(...auth(token))
        .send({ bio: 'hello 世界' })
        .expect(200);
    });

    it('null in either field reads as the field left out (SPEC §1); both null is an empty update', async () => {
      const set = await t.http
        .post('/account/updateProfile')
        .set(...auth(token))
        .send({ bio: 'kept', avatar_url: null });
      expect(set.status).toBe(200);
      expect(set.body).toMatchObject({ bio: 'kept', avatar_url: '' });
      const other = await t.http
        .post('/account/updateProfile')
        .set(...auth(token))
        .send({ bio: null, avatar_url: '' });
      expect(other.status).toBe(200);
      expect(other.body).toMatchObject({ bio: 'kept', avatar_url: '' });
      const none = await t.http
        .post('/account/updateProfile')
        .set(...auth(token))
        .send({ bio: null, avatar_url: null });
      expect(expectError(none, 400, 'VALIDATION_FAILED').error).toBe(
        (
          await t.http
            .post('/account/updateProfile')
            .set(...auth(token))
            .send({})
        ).body.error,
      );
      await t.http
        .post('/account/updateProfile')
        .set(...auth(token))
        .send({ bio: 'hello 世界' })
        .expect(200);
    });

    it('accepts the URL of one of the caller’s own image uploads, and "" clears it', async () => {
      const now = Date.now();
      for (const [kind, key] of [
        ['avatar', `avatars/2026/01/${id.toString(16).padStart(32, 'a')}.png`],
        ['cover', `covers/2026/01/${id.toString(16).padStart(32, 'c')}.jpg`],
      ]) {
        await t.sql(
          'INSERT INTO uploads (account_id, kind, storage_key, content_type, size, create_time) VALUES (?, ?, ?, ?, ?, ?)',
          [id, kind, key, 'image/png', 10, now],
        );
        const res = await t.http
          .post('/account/updateProfile')
          .set(...auth(token))
          .send({ avatar_url: `/static/${key}` });
        expect(res.status).toBe(200);
        expect(res.body.avatar_url).toBe(`/static/${key}`);
      }
      const cleared = await t.http
        .post('/account/updateProfile')
        .set(...auth(token))
        .send({ avatar_url: '' });
      expect(cleared.status).toBe(200);
      expect(cleared.body.avatar_url).toBe('');
      expect(cleared.body.bio).toBe('hello 世界');
    });

    it('400 for a URL that is not the caller’s image upload', async () => {
      const other = await register(fresh('other'));
      const now = Date.now();
      await t.sql(
        'INSERT INTO uploads (account_id, kind, storage_key, content_type, size, create_time) VALUES (?, ?, ?, ?, ?, ?)',
        [other, 'avatar', `avatars/${other}-o.png`, 'image/png', 10, now],
      );
      await t.sql(
        'INSERT INTO uploads (account_id, kind, storage_key, content_type, size, create_time) VALUES (?, ?, ?, ?, ?, ?)',
        [id, 'video', `videos/${id}-v.mp4`, 'video/mp4', 10, now],
      );
      for (const avatar_url of [
        `/static/avatars/${other}-o.png`,
        `/static/videos/${id}-v.mp4`,
        'https://evil.example/x.png',
        'javascript:alert(1)',
        '/static/',
      ]) {
        const body = expectError(
          await t.http
            .post('/account/updateProfile')
            .set(...auth(token))
            .send({ avatar_url }),
          400,
          'VALIDATION_FAILED',
        );
        expect(body.details?.[0]?.field).toBe('avatar_url');
      }
    });

    it('400 for {}, a bio over 255 characters, and wrong types', async () => {
      for (const body of [{}, { bio: 'x'.repeat(256) }, { bio: null }, { avatar_url: 5 }, { bio: ['a'] }]) {
        expectError(
          await t.http
            .post('/account/updateProfile')
            .set(...auth(token))
            .send(body),
          400,
          'VALIDATION_FAILED',
        );
      }
      const ok = await t.http
        .post('/account/updateProfile')
        .set(...auth(token))
        .send({ bio: 'y'.repeat(255) });
      expect(ok.status).toBe(200);
    });

    it('401 without a token', async () => {
      expectError(await t.http.post('/account/updateProfile').send({ bio: 'x' }), 401, 'UNAUTHENTICATED');
    });
  });

  it('/docs describes every account route, with bearer auth on the JWT ones', async () => {
    const doc = (await t.http.get('/docs/json').expect(200)).body;
    for (const r of [
      'register',
      'login',
      'refresh',
      'changePassword',
      'findByID',
      'findByUsername',
      'getProfile',
    ]) {
      expect(doc.paths[`/account/${r}`]?.post).toBeDefined();
      expect(doc.paths[`/account/${r}`].post.security).toBeUndefined();
    }
    for (const r of ['rename', 'logout', 'updateProfile']) {
      expect(doc.paths[`/account/${r}`].post.security).toEqual([{ bearer: [] }]);
    }
  });
});
