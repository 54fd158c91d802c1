import { forgetRecountedVideos, recountAll } from '../../apps/worker/src/recount-all';
import { CacheKeys, CacheStore } from '@app/cache';
import { Database } from '@app/core';
import { createAccounts, TestAccount } from '../factories/accounts';
import { publishVideo } from '../factories/videos';
import { startApp, TestApp } from '../helpers/test-app';
import { PROFILES } from '../helpers/test-env';

describe.each(PROFILES)('interactions across domains (%s)', (profile) => {
  let t: TestApp;
  let users: TestAccount[];

  beforeAll(async () => {
    t = await startApp(profile);
    users = await createAccounts(t, 4, 'mix');
  });
  afterAll(async () => {
    await t?.close();
  });

  const post = (route: string, who: TestAccount, body: object) =>
    t.http.post(route).set('Authorization', who.auth).send(body);

  it('rename shows the new name on videos and comments (detail cache included)', async () => {
    const [a, b] = users;
    const v = await publishVideo(t, a);
    const c = await post('/comment/publish', a, { video_id: v.id, content: 'mine' }).expect(200);
    await t.http.post('/video/getDetail').send({ id: v.id }).expect(200);
    const newName = `renamed_${Date.now().toString(36)}`;
    const res = await post('/account/rename', a, { new_username: newName }).expect(200);
    a.token = res.body.token;
    a.auth = `Bearer ${a.token}`;
    a.username = newName;
    expect((await t.http.post('/video/getDetail').send({ id: v.id }).expect(200)).body.username).toBe(
      newName,
    );
    const list = await t.http.post('/video/listByAuthorID').send({ author_id: a.id }).expect(200);
    expect(list.body[0].username).toBe(newName);
    const comments = await t.http.post('/comment/listAll').send({ video_id: v.id }).expect(200);
    expect(comments.body.find((x: { id: number }) => x.id === c.body.id).username).toBe(newName);
    // New writes use the new name too.
    expect((await publishVideo(t, a)).username).toBe(newName);
    await post('/like/like', b, { video_id: v.id }).expect(200);
  });

  it('recount changes nothing after a mixed workload', async () => {
    const videos = [];
    for (const u of users.slice(0, 2)) videos.push(await publishVideo(t, u), await publishVideo(t, u));
    const ops: Promise<unknown>[] = [];
    for (const u of users) {
      for (const v of videos) {
        ops.push(
          (async () => {
            await post('/like/like', u, { video_id: v.id });
            const c = await post('/comment/publish', u, { video_id: v.id, content: `by ${u.id}` });
            if ((u.id + v.id) % 2 === 0) await post('/like/unlike', u, { video_id: v.id });
            if ((u.id + v.id) % 3 === 0 && c.status === 200) {
              await post('/comment/delete', u, { comment_id: c.body.id });
            }
          })(),
        );
      }
      for (const other of users)
        if (other.id !== u.id) ops.push(post('/social/follow', u, { vlogger_id: other.id }));
    }
    await Promise.all(ops);
    await post('/social/unfollow', users[0], { vlogger_id: users[1].id }).expect(200);
    await post('/video/delete', users[0], { id: videos[0].id }).expect(200);

    const db = t.app.get(Database);
    expect(await recountAll(db)).toEqual({
      likes_count: 0,
      comments_count: 0,
      popularity: 0,
      follower_count: 0,
      vlogger_count: 0,
    });
    // And recount does fix a counter that drifted.
    await t.sql('UPDATE videos SET likes_count = likes_count + 5, popularity = popularity + 5 WHERE id = ?', [
      videos[1].id,
    ]);
    await t.sql('UPDATE accounts SET follower_count = 42 WHERE id = ?', [users[2].id]);
    expect(await recountAll(db)).toEqual({
      likes_count: 1,
      comments_count: 0,
      popularity: 1,
      follower_count: 1,
      vlogger_count: 0,
    });
    expect(await recountAll(db)).toMatchObject({ likes_count: 0, popularity: 0, follower_count: 0 });
    const counts = await t.http
      .post('/social/getCounts')
      .set('Authorization', users[2].auth)
      .send({})
      .expect(200);
    expect(counts.body).toEqual({ follower_count: 3, vlogger_count: 3 });
  });

  it('recount drops the cached copies of the videos it fixed (detail, likes-count page)', async () => {
    const [a, b, c] = users;
    const v = await publishVideo(t, a, { title: 'drifted' });
    await post('/like/like', b, { video_id: v.id }).expect(200);
    await post('/like/like', c, { video_id: v.id }).expect(200);
    // Drift behind the processes' backs, then cached by a read: the detail entry holds 12 likes.
    await t.sql('UPDATE videos SET likes_count = 12, popularity = 12 WHERE id = ?', [v.id]);
    await t.app.get(CacheStore).del(CacheKeys.videoDetail(v.id));
    const detail = async (): Promise<{ likes_count: number; popularity: number }> =>
      (await t.http.post('/video/getDetail').send({ id: v.id }).expect(200)).body;
    expect(await detail()).toMatchObject({ likes_count: 12, popularity: 12 });
    const likesCountOf = async (body: object = {}): Promise<number | undefined> =>
      (
        (
          await t.http
            .post('/feed/listLikesCount')
            .send({ limit: 200, ...body })
            .expect(200)
        ).body.video_list as {
          id: number;
          likes_count: number;
        }[]
      ).find((x) => x.id === v.id)?.likes_count;
    // Past a cursor below 12 likes first: a page the video is not on while its count reads 12.
    const below = { likes_count_before: 3, id_before: v.id + 1 };
    expect(await likesCountOf(below)).toBeUndefined();
    expect(await likesCountOf()).toBe(12);

    const fixed = new Set<number>();
    expect(await recountAll(t.app.get(Database), fixed)).toMatchObject({ likes_count: 1, popularity: 1 });
    expect([...fixed]).toEqual([v.id]);
    expect(await forgetRecountedVideos(t.app.get(CacheStore), t.app.get(Database), fixed)).toBe(true);
    // The deep page first (the first page would show the detail's count and repair the index).
    expect(await likesCountOf(below)).toBe(2);
    expect(await detail()).toMatchObject({ likes_count: 2, popularity: 2 });
    expect(await likesCountOf()).toBe(2);
  });
});
