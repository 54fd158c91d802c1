import { createAccount, TestAccount } from '../factories/accounts';
import { expectError, startApp, TestApp } from '../helpers/test-app';
import { PROFILES } from '../helpers/test-env';

describe.each(PROFILES)('social routes (%s)', (profile) => {
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
    const req = t.http.post(`/social/${route}`);
    if (who) void req.set('Authorization', who.auth);
    return req.send(body as object);
  };

  it('follow → in getAllVloggers and getAllFollowers at once, with exact counts; unfollow reverts', async () => {
    const vl = await createAccount(t, 'vl');
    const fan = await createAccount(t, 'fan');
    expect((await call('follow', fan, { vlogger_id: vl.id }).expect(200)).body).toEqual({
      message: expect.any(String),
    });
    const vloggers = await call('getAllVloggers', fan, {}).expect(200);
    expect(vloggers.body).toEqual({
      vloggers: [
        { id: vl.id, username: vl.username, avatar_url: '', bio: '', follow_id: expect.any(Number) },
      ],
      vlogger_count: 1,
    });
    const followers = await call('getAllFollowers', fan, { vlogger_id: vl.id }).expect(200);
    expect(followers.body).toEqual({
      followers: [
        { id: fan.id, username: fan.username, avatar_url: '', bio: '', follow_id: expect.any(Number) },
      ],
      follower_count: 1,
    });
    expect((await call('getCounts', vl, {}).expect(200)).body).toEqual({
      follower_count: 1,
      vlogger_count: 0,
    });
    expect((await call('getCounts', vl, { account_id: fan.id }).expect(200)).body).toEqual({
      follower_count: 0,
      vlogger_count: 1,
    });
    await call('unfollow', fan, { vlogger_id: vl.id }).expect(200);
    expect((await call('getAllVloggers', fan, {}).expect(200)).body).toEqual({
      vloggers: [],
      vlogger_count: 0,
    });
    expect((await call('getCounts', vl, {}).expect(200)).body).toEqual({
      follower_count: 0,
      vlogger_count: 0,
    });
  });

  it('400 self, 404 unknown account, 409 already following / not following (oneself too)', async () => {
    expectError(await call('follow', alice, { vlogger_id: alice.id }), 400, 'VALIDATION_FAILED');
    expectError(await call('unfollow', alice, { vlogger_id: alice.id }), 409, 'CONFLICT', 'not following');
    expectError(
      await call('follow', alice, { vlogger_id: 987654321 }),
      404,
      'NOT_FOUND',
      'account not found',
    );
    expectError(await call('unfollow', alice, { vlogger_id: 987654321 }), 404, 'NOT_FOUND');
    await call('follow', alice, { vlogger_id: bob.id }).expect(200);
    expectError(await call('follow', alice, { vlogger_id: bob.id }), 409, 'CONFLICT', 'already following');
    await call('unfollow', alice, { vlogger_id: bob.id }).expect(200);
    expectError(await call('unfollow', alice, { vlogger_id: bob.id }), 409, 'CONFLICT', 'not following');
    expect((await call('getCounts', bob, {}).expect(200)).body).toEqual({
      follower_count: 0,
      vlogger_count: 0,
    });
  });

  it('401 without a token on every route', async () => {
    for (const r of ['follow', 'unfollow', 'getAllFollowers', 'getAllVloggers', 'getCounts']) {
      expectError(await call(r, null, { vlogger_id: bob.id }), 401, 'UNAUTHENTICATED');
    }
  });

  it('400 for bad ids, limits and cursors; 404 for unknown accounts in the lists', async () => {
    for (const body of [
      {},
      { vlogger_id: '2' },
      { vlogger_id: 0 },
      { vlogger_id: 2.5 },
      { vlogger_id: 2 ** 53 },
    ]) {
      expectError(await call('follow', alice, body), 400, 'VALIDATION_FAILED');
    }
    expectError(await call('getAllFollowers', alice, { vlogger_id: 'x' }), 400, 'VALIDATION_FAILED');
    expectError(await call('getAllVloggers', alice, { follower_id: -1 }), 400, 'VALIDATION_FAILED');
    expectError(await call('getAllVloggers', alice, { limit: -1 }), 400, 'VALIDATION_FAILED');
    expectError(await call('getAllFollowers', alice, { id_before: 1.5 }), 400, 'VALIDATION_FAILED');
    expectError(await call('getCounts', alice, { account_id: 0 }), 400, 'VALIDATION_FAILED');
    expectError(await call('getAllFollowers', alice, { vlogger_id: 987654321 }), 404, 'NOT_FOUND');
    expectError(await call('getAllVloggers', alice, { follower_id: 987654321 }), 404, 'NOT_FOUND');
    expectError(await call('getCounts', alice, { account_id: 987654321 }), 404, 'NOT_FOUND');
  });

  it('lists page by follow id (newest first) and counts are totals whatever the page size', async () => {
    const star = await createAccount(t, 'star');
    const fans: TestAccount[] = [];
    for (let i = 0; i < 5; i++) {
      const f = await createAccount(t, 'f');
      await call('follow', f, { vlogger_id: star.id }).expect(200);
      fans.push(f);
    }
    const seen: number[] = [];
    let cursor = 0;
    for (;;) {
      const page = await call('getAllFollowers', star, { limit: 2, id_before: cursor }).expect(200);
      expect(page.body.follower_count).toBe(5);
      if (page.body.followers.length === 0) break;
      seen.push(...page.body.followers.map((a: { id: number }) => a.id));
      cursor = page.body.followers[page.body.followers.length - 1].follow_id;
    }
    expect(seen).toEqual(fans.map((f) => f.id).reverse());
  });
});
