/**
 * Issue 12, findings #7 (media URL traversal), #8 (confusable usernames) and #13 (passwords
 * over 72 bytes at login): each attack as reported, now refused.
 */
import { expectError, startApp, TestApp } from '../helpers/test-app';
import { PROFILES } from '../helpers/test-env';

const PW = 'secret123';

describe.each(PROFILES)('input rules (%s)', (profile) => {
  let t: TestApp;
  let token: string;
  const auth = (): [string, string] => ['Authorization', `Bearer ${token}`];

  beforeAll(async () => {
    t = await startApp(profile);
    await t.http.post('/account/register').send({ username: 'alice', password: PW }).expect(200);
    token = (await t.http.post('/account/login').send({ username: 'alice', password: PW }).expect(200)).body
      .token;
  });
  afterAll(async () => {
    await t?.close();
  });

  it('#7 media URLs: encoded, backslashed and dotted paths are refused, real keys pass', async () => {
    const traversals = [
      '/static/%2e%2e/%2e%2e/docs',
      '/static/%2E%2E/docs',
      '/static/..\\..\\docs',
      '/static/a/../../docs',
      '/static/./x.mp4',
      '/static/.hidden',
      '/static/x.mp4?../../docs',
      '/static/x.mp4#/../docs',
      'http://localhost:8080/static/%2e%2e/%2e%2e/docs',
      'https://cdn.example.com/a/../../docs',
      'https://cdn.example.com/a\\..\\docs',
      'https://cdn.example.com/a/%5c..%5cdocs',
    ];
    for (const url of traversals) {
      for (const field of ['play_url', 'cover_url']) {
        const body = {
          title: 't',
          play_url: '/static/videos/2026/01/a.mp4',
          cover_url: '/static/covers/2026/01/a.jpg',
        };
        const res = await t.http
          .post('/video/publish')
          .set(...auth())
          .send({ ...body, [field]: url });
        const err = expectError(res, 400, 'VALIDATION_FAILED');
        expect({ url, fields: err.details?.map((d) => d.field) }).toEqual({ url, fields: [field] });
      }
      const avatar = await t.http
        .post('/account/updateProfile')
        .set(...auth())
        .send({ avatar_url: url });
      expectError(avatar, 400, 'VALIDATION_FAILED');
    }
    const ok = await t.http
      .post('/video/publish')
      .set(...auth())
      .send({
        title: 'ok',
        play_url: '/static/videos/2026/01/a.mp4',
        cover_url: 'https://cdn.example.com/c%2Fd.jpg',
      });
    expect(ok.status).toBe(200);
    const rows = await t.sql<{ n: number | string }>('SELECT COUNT(*) AS n FROM videos');
    expect(Number(rows[0].n)).toBe(1);
  });

  it('#8 confusable usernames: invisible characters, variation selectors, other scripts and widths', async () => {
    const attempts: [string, number][] = [
      ['alice\u034f', 400], // combining grapheme joiner
      ['ALICE\ufe0f', 400], // variation selector
      ['ali\u200dce', 400], // zero-width joiner
      ['\u0301\u0301\u0301', 400], // combining marks only
      ['\u0430lice', 409], // Cyrillic а
      ['ａｌｉｃｅ', 409], // full-width: NFKC makes it `alice`
      ['AIice', 409], // capital I for l
    ];
    for (const [username, status] of attempts) {
      const res = await t.http.post('/account/register').send({ username, password: PW });
      expect({ username, status: res.status }).toEqual({ username, status });
    }
    const rows = await t.sql<{ n: number | string }>('SELECT COUNT(*) AS n FROM accounts');
    expect(Number(rows[0].n)).toBe(1);
    // Renaming into a look-alike is refused too.
    await t.http.post('/account/register').send({ username: 'bob', password: PW }).expect(200);
    const bob = (await t.http.post('/account/login').send({ username: 'bob', password: PW }).expect(200)).body
      .token;
    expectError(
      await t.http
        .post('/account/rename')
        .set('Authorization', `Bearer ${bob}`)
        .send({ new_username: 'ＡＬＩＣＥ' }),
      409,
      'CONFLICT',
    );
  });

  it('#13 a password over 72 bytes is a 400 at login and as old_password, never a prefix match', async () => {
    const pw72 = 'q'.repeat(72);
    await t.http.post('/account/register').send({ username: 'carol', password: pw72 }).expect(200);
    const longer = `${pw72}anything`;
    const login = await t.http.post('/account/login').send({ username: 'carol', password: longer });
    expect(expectError(login, 400, 'VALIDATION_FAILED').details?.[0]?.field).toBe('password');
    const change = await t.http
      .post('/account/changePassword')
      .send({ username: 'carol', old_password: longer, new_password: 'new-secret-1' });
    expect(expectError(change, 400, 'VALIDATION_FAILED').details?.[0]?.field).toBe('old_password');
    await t.http.post('/account/login').send({ username: 'carol', password: pw72 }).expect(200);
  });
  it('#14 text with an unpaired surrogate is a 400 naming the field; paired text (emoji) is kept as sent', async () => {
    const lone = ['x\ud800y', 'x\udfffy', '\ud83d', 'a\ude00'];
    const urls = { play_url: 'https://cdn.example/v.mp4', cover_url: 'https://cdn.example/c.jpg' };
    const good = 'ok 😀 𝄞 👩‍👩‍👧';
    const video = await t.http
      .post('/video/publish')
      .set(...auth())
      .send({ title: good, description: good, ...urls })
      .expect(200);
    expect(video.body).toMatchObject({ title: good, description: good });
    expect(
      (await t.http.post('/video/getDetail').send({ id: video.body.id }).expect(200)).body,
    ).toMatchObject({
      title: good,
      description: good,
    });
    const bob = (
      await t.http.post('/account/register').send({ username: 'surrogate_peer', password: PW }).expect(200)
    ).body.id as number;
    const cases: [string, string, (text: string) => Record<string, unknown>][] = [
      ['/video/publish', 'title', (text) => ({ title: text, ...urls })],
      ['/video/publish', 'description', (text) => ({ title: 'fine', description: text, ...urls })],
      ['/comment/publish', 'content', (text) => ({ video_id: video.body.id, content: text })],
      ['/message/send', 'content', (text) => ({ to_id: bob, content: text })],
      ['/account/updateProfile', 'bio', (text) => ({ bio: text })],
      ['/feed/listByTag', 'tag_name', (text) => ({ tag_name: text })],
    ];
    for (const [route, field, body] of cases) {
      for (const text of lone) {
        const res = await t.http
          .post(route)
          .set(...auth())
          .send(body(text));
        const err = expectError(res, 400, 'VALIDATION_FAILED');
        expect(err.details?.map((d) => d.field)).toEqual([field]);
        expect(err.error).toMatch(/unpaired surrogate/);
      }
    }
    // Nothing was written by the refused requests: alice's videos are the ones above and before.
    const before = Number(
      (await t.sql<{ n: number | string }>('SELECT COUNT(*) AS n FROM videos WHERE title = ?', ['fine']))[0]
        .n,
    );
    expect(before).toBe(0);
    const comments = await t.sql<{ n: number | string }>(
      'SELECT COUNT(*) AS n FROM comments WHERE video_id = ?',
      [video.body.id],
    );
    expect(Number(comments[0].n)).toBe(0);
  });
});
