import { createAccount, TestAccount } from '../factories/accounts';
import { publishComment, publishVideo } from '../factories/videos';
import { expectError, startApp, TestApp } from '../helpers/test-app';
import { PROFILES } from '../helpers/test-env';

const ISO_MS = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

describe.each(PROFILES)('comment routes (%s)', (profile) => {
  let t: TestApp;
  let alice: TestAccount;
  let bob: TestAccount;

  beforeAll(async () => {
    t = await startApp(profile);
    alice = await createAccount(t, 'alice');
    bob = await createAccount(t, 'bob');
  });
  afterAll(async () => {
    await t?.close();
  });

  const call = (route: string, who: TestAccount | null, body: unknown) => {
    const req = t.http.post(`/comment/${route}`);
    if (who) void req.set('Authorization', who.auth);
    return req.send(body as object);
  };
  const detail = async (id: number) => (await t.http.post('/video/getDetail').send({ id }).expect(200)).body;

  it('publish returns the Comment (trimmed) and listAll shows it at once; counters +1', async () => {
    const v = await publishVideo(t, alice);
    await detail(v.id);
    const res = await call('publish', bob, { video_id: v.id, content: '  first!  ' }).expect(200);
    expect(res.body).toEqual({
      id: expect.any(Number),
      video_id: v.id,
      author_id: bob.id,
      username: bob.username,
      content: 'first!',
      created_at: expect.stringMatching(ISO_MS),
    });
    const list = await call('listAll', null, { video_id: v.id }).expect(200);
    expect(list.body).toEqual([res.body]);
    expect(await detail(v.id)).toMatchObject({ comments_count: 1, popularity: 1 });
  });

  it('listAll: oldest first, every comment reachable with id_after', async () => {
    const v = await publishVideo(t, alice);
    const ids: number[] = [];
    for (let i = 0; i < 7; i++) ids.push((await publishComment(t, bob, v.id, `c${i}`)).id);
    const seen: number[] = [];
    let cursor = 0;
    for (;;) {
      const page = await call('listAll', null, { video_id: v.id, limit: 3, id_after: cursor }).expect(200);
      if (page.body.length === 0) break;
      seen.push(...page.body.map((c: { id: number }) => c.id));
      cursor = page.body[page.body.length - 1].id;
    }
    expect(seen).toEqual(ids);
    expect((await call('listAll', null, { video_id: v.id, limit: 500 }).expect(200)).body).toHaveLength(7);
  });

  it('listAll 404 unknown video; 400 bad input', async () => {
    expectError(await call('listAll', null, { video_id: 987654321 }), 404, 'NOT_FOUND', 'video not found');
    for (const body of [
      {},
      { video_id: 'x' },
      { video_id: 0 },
      { video_id: 1, limit: -1 },
      { video_id: 1, id_after: 1.5 },
    ]) {
      expectError(await call('listAll', null, body), 400, 'VALIDATION_FAILED');
    }
  });

  it('publish: 404 unknown video, 401 without token, 400 bad content or id', async () => {
    const v = await publishVideo(t, alice);
    expectError(await call('publish', bob, { video_id: 987654321, content: 'x' }), 404, 'NOT_FOUND');
    expectError(await call('publish', null, { video_id: v.id, content: 'x' }), 401, 'UNAUTHENTICATED');
    for (const body of [
      { video_id: v.id },
      { video_id: v.id, content: '   ' },
      { video_id: v.id, content: 'x'.repeat(1001) },
      { video_id: v.id, content: 5 },
      { video_id: String(v.id), content: 'x' },
      { video_id: -1, content: 'x' },
    ]) {
      expectError(await call('publish', bob, body), 400, 'VALIDATION_FAILED');
    }
    await call('publish', bob, { video_id: v.id, content: '😀'.repeat(1000) }).expect(200);
    expect(await detail(v.id)).toMatchObject({ comments_count: 1 });
  });

  it('Idempotency-Key: sequential and concurrent retries create one comment and return the first response', async () => {
    const v = await publishVideo(t, alice);
    const first = await call('publish', bob, { video_id: v.id, content: 'once' })
      .set('Idempotency-Key', 'seq-1')
      .expect(200);
    const again = await call('publish', bob, { video_id: v.id, content: 'twice' })
      .set('Idempotency-Key', 'seq-1')
      .expect(200);
    expect(again.body).toEqual(first.body);
    const results = await Promise.all(
      Array.from({ length: 8 }, () =>
        call('publish', bob, { video_id: v.id, content: 'burst' }).set('Idempotency-Key', 'burst-1'),
      ),
    );
    for (const r of results) expect(r.status).toBe(200);
    expect(new Set(results.map((r) => r.body.id)).size).toBe(1);
    const rows = await t.sql<{ n: number }>('SELECT COUNT(*) AS n FROM comments WHERE video_id = ?', [v.id]);
    expect(Number(rows[0].n)).toBe(2);
    expect(await detail(v.id)).toMatchObject({ comments_count: 2, popularity: 2 });
  });

  it('delete: 403 not the author, 404 unknown, 401, 400; the author deletes and counters go back', async () => {
    const v = await publishVideo(t, alice);
    const c = await publishComment(t, bob, v.id);
    expectError(await call('delete', alice, { comment_id: c.id }), 403, 'FORBIDDEN');
    expectError(await call('delete', null, { comment_id: c.id }), 401, 'UNAUTHENTICATED');
    expectError(await call('delete', bob, { comment_id: 987654321 }), 404, 'NOT_FOUND', 'comment not found');
    expectError(await call('delete', bob, { comment_id: '1' }), 400, 'VALIDATION_FAILED');
    expectError(await call('delete', bob, {}), 400, 'VALIDATION_FAILED');
    expect((await call('delete', bob, { comment_id: c.id }).expect(200)).body).toEqual({
      message: expect.any(String),
    });
    expect((await call('listAll', null, { video_id: v.id }).expect(200)).body).toEqual([]);
    expect(await detail(v.id)).toMatchObject({ comments_count: 0, popularity: 0 });
    expectError(await call('delete', bob, { comment_id: c.id }), 404, 'NOT_FOUND');
  });
});
