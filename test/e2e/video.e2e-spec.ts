import { CacheKeys, CacheStore } from '@app/cache';
import { VideoRepository } from '@app/video';
import { createAccount, TestAccount } from '../factories/accounts';
import { publishVideo } from '../factories/videos';
import { expectError, startApp, TestApp } from '../helpers/test-app';
import { PROFILES } from '../helpers/test-env';

const ISO_MS = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

describe.each(PROFILES)('video routes (%s)', (profile) => {
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

  const publish = (who: TestAccount | null, body: Record<string, unknown>) => {
    const req = t.http.post('/video/publish');
    if (who) void req.set('Authorization', who.auth);
    return req.send(body);
  };
  const valid = { title: '  Hello  ', play_url: 'https://cdn.example.com/a.mp4', cover_url: '/static/c.jpg' };

  describe('/video/publish', () => {
    it('returns the Video with trimmed text, counters at 0 and ISO time', async () => {
      const res = await publish(alice, valid).expect(200);
      expect(res.body).toEqual({
        id: expect.any(Number),
        author_id: alice.id,
        username: alice.username,
        title: 'Hello',
        description: '',
        play_url: valid.play_url,
        cover_url: valid.cover_url,
        create_time: expect.stringMatching(ISO_MS),
        likes_count: 0,
        comments_count: 0,
        popularity: 0,
        tags: [],
      });
    });

    it('also answers under /api', async () => {
      const res = await t.http
        .post('/api/video/publish')
        .set('Authorization', alice.auth)
        .send(valid)
        .expect(200);
      expect(res.body.author_id).toBe(alice.id);
    });

    it.each([
      ['missing title', { ...valid, title: undefined }, 'title'],
      ['blank title', { ...valid, title: '   ' }, 'title'],
      ['title too long', { ...valid, title: 'x'.repeat(256) }, 'title'],
      ['title not a string', { ...valid, title: 42 }, 'title'],
      ['description too long', { ...valid, description: 'x'.repeat(2001) }, 'description'],
      ['description not a string', { ...valid, description: ['a'] }, 'description'],
      ['javascript: play_url', { ...valid, play_url: 'javascript:alert(1)' }, 'play_url'],
      ['data: cover_url', { ...valid, cover_url: 'data:image/png;base64,AAAA' }, 'cover_url'],
      ['relative play_url', { ...valid, play_url: 'videos/a.mp4' }, 'play_url'],
      ['protocol-relative cover', { ...valid, cover_url: '//evil.example.com/a.jpg' }, 'cover_url'],
      ['missing cover_url', { ...valid, cover_url: undefined }, 'cover_url'],
    ])('400 for %s', async (_name, body, field) => {
      const err = expectError(await publish(alice, body), 400, 'VALIDATION_FAILED');
      expect(err.details?.[0]?.field).toBe(field);
    });

    it('accepts title of exactly 255 and description of 2000 characters', async () => {
      const res = await publish(alice, {
        ...valid,
        title: 'é'.repeat(255),
        description: 'd'.repeat(2000),
      }).expect(200);
      expect(res.body.title).toHaveLength(255);
    });

    it('401 without a token', async () => {
      expectError(await publish(null, valid), 401, 'UNAUTHENTICATED');
    });

    it('400 for an invalid Idempotency-Key header', async () => {
      expectError(
        await publish(alice, valid).set('Idempotency-Key', 'x'.repeat(200)),
        400,
        'VALIDATION_FAILED',
      );
    });

    it('a retry with the same Idempotency-Key returns the first response and creates nothing', async () => {
      const key = `k-${Date.now()}`;
      const first = await publish(alice, valid).set('Idempotency-Key', key).expect(200);
      const again = await publish(alice, { ...valid, title: 'other' })
        .set('Idempotency-Key', key)
        .expect(200);
      expect(again.body).toEqual(first.body);
      const rows = await t.sql<{ n: number }>('SELECT COUNT(*) AS n FROM videos WHERE id > ?', [
        first.body.id,
      ]);
      expect(Number(rows[0].n)).toBe(0);
      // Another account may use the same key independently.
      const bobs = await publish(bob, valid).set('Idempotency-Key', key).expect(200);
      expect(bobs.body.id).not.toBe(first.body.id);
    });

    it('concurrent requests with one Idempotency-Key create one video and all get its response', async () => {
      const key = `c-${Date.now()}`;
      const before = await t.sql<{ n: number }>('SELECT COUNT(*) AS n FROM videos WHERE author_id = ?', [
        alice.id,
      ]);
      const results = await Promise.all(
        Array.from({ length: 8 }, () => publish(alice, valid).set('Idempotency-Key', key)),
      );
      for (const r of results) expect(r.status).toBe(200);
      const ids = new Set(results.map((r) => r.body.id));
      expect(ids.size).toBe(1);
      const after = await t.sql<{ n: number }>('SELECT COUNT(*) AS n FROM videos WHERE author_id = ?', [
        alice.id,
      ]);
      expect(Number(after[0].n) - Number(before[0].n)).toBe(1);
    });
  });

  describe('/video/listByAuthorID', () => {
    let author: TestAccount;
    let ids: number[];
    beforeAll(async () => {
      author = await createAccount(t, 'lister');
      ids = [];
      for (let i = 0; i < 5; i++) ids.push((await publishVideo(t, author)).id);
    });

    it('lists newest first, pages with id_before, no token needed', async () => {
      const p1 = await t.http
        .post('/video/listByAuthorID')
        .send({ author_id: author.id, limit: 2 })
        .expect(200);
      expect(p1.body.map((v: { id: number }) => v.id)).toEqual([ids[4], ids[3]]);
      const p2 = await t.http
        .post('/video/listByAuthorID')
        .send({ author_id: author.id, limit: 2, id_before: ids[3] })
        .expect(200);
      expect(p2.body.map((v: { id: number }) => v.id)).toEqual([ids[2], ids[1]]);
      const p3 = await t.http
        .post('/video/listByAuthorID')
        .send({ author_id: author.id, limit: 2, id_before: ids[1] })
        .expect(200);
      expect(p3.body.map((v: { id: number }) => v.id)).toEqual([ids[0]]);
    });

    it('limit 0 / absent is the default, above the max is clamped, id_before 0 is the first page', async () => {
      const a = await t.http
        .post('/video/listByAuthorID')
        .send({ author_id: author.id, limit: 0, id_before: 0 });
      expect(a.status).toBe(200);
      expect(a.body).toHaveLength(5);
      const b = await t.http.post('/video/listByAuthorID').send({ author_id: author.id, limit: 100000 });
      expect(b.body).toHaveLength(5);
    });

    it('an unknown author has no videos', async () => {
      const res = await t.http.post('/video/listByAuthorID').send({ author_id: 999999 }).expect(200);
      expect(res.body).toEqual([]);
    });

    it.each([
      ['string id', { author_id: '1' }],
      ['zero id', { author_id: 0 }],
      ['negative id', { author_id: -3 }],
      ['fractional id', { author_id: 1.5 }],
      ['id above 2^53-1', { author_id: 2 ** 53 }],
      ['missing id', {}],
      ['negative limit', { author_id: 1, limit: -1 }],
      ['fractional limit', { author_id: 1, limit: 2.5 }],
      ['string limit', { author_id: 1, limit: '10' }],
      ['negative cursor', { author_id: 1, id_before: -1 }],
      ['fractional cursor', { author_id: 1, id_before: 0.5 }],
    ])('400 for %s', async (_n, body) => {
      expectError(await t.http.post('/video/listByAuthorID').send(body), 400, 'VALIDATION_FAILED');
    });
  });

  describe('/video/getDetail', () => {
    it('returns the Video, without a token', async () => {
      const v = await publishVideo(t, alice);
      const res = await t.http.post('/video/getDetail').send({ id: v.id }).expect(200);
      expect(res.body).toEqual(v);
    });

    it('404 for an unknown id, and the id works once a video gets it', async () => {
      const next = (await t.sql<{ m: number }>('SELECT MAX(id) AS m FROM videos'))[0].m;
      const id = Number(next) + 1;
      expectError(await t.http.post('/video/getDetail').send({ id }), 404, 'NOT_FOUND', 'video not found');
      const v = await publishVideo(t, alice);
      expect(v.id).toBe(id);
      await t.http.post('/video/getDetail').send({ id }).expect(200);
    });

    it('concurrent misses are loaded together: each answers its own video, an unknown id its 404', async () => {
      const videos = await Promise.all(Array.from({ length: 12 }, () => publishVideo(t, alice)));
      const store = t.app.get(CacheStore);
      await Promise.all(videos.map((v) => store.del(CacheKeys.videoDetail(v.id))));
      const unknown = videos[videos.length - 1].id + 1000;
      const answers = await Promise.all(
        [...videos.map((v) => v.id), unknown].map((id) => t.http.post('/video/getDetail').send({ id })),
      );
      videos.forEach((v, i) => {
        expect(answers[i].status).toBe(200);
        expect(answers[i].body).toEqual(v);
      });
      expectError(answers[videos.length], 404, 'NOT_FOUND', 'video not found');

      // Straight on the repository, on this profile's database: calls made together (85 ids, so
      // statements of 64 and 40 after padding), then one at a time (1, 10 and 20), an id asked
      // twice answered twice.
      const repo = t.app.get(VideoRepository);
      const ids = videos.map((v) => v.id);
      const many = Array.from(
        { length: 70 },
        (_, i) => ids[i % ids.length] + (i >= ids.length ? 5000 + i : 0),
      );
      const [one, some, ahead, all] = await Promise.all([
        repo.viewsByIds([ids[3]]),
        repo.viewsByIds([ids[5], unknown, ids[1]]),
        repo.viewsByIds(ids.slice(0, 11)),
        repo.viewsByIds(many),
      ]);
      expect(one).toEqual([videos[3]]);
      expect(some.map((v) => v.id)).toEqual([ids[5], ids[1]]);
      expect(ahead.map((v) => v.id)).toEqual(ids.slice(0, 11));
      expect(all.map((v) => v.id)).toEqual(ids);
      for (const n of [1, 10, 11, 21, 41, 64]) {
        expect((await repo.viewsByIds(ids.concat(ids, ids, ids, ids, ids).slice(0, n))).length).toBe(n);
      }
    });

    it.each([[{ id: 'x' }], [{ id: 0 }], [{ id: -1 }], [{ id: 1.2 }], [{}], [{ id: null }]])(
      '400 for %j',
      async (body) => {
        expectError(await t.http.post('/video/getDetail').send(body), 400, 'VALIDATION_FAILED');
      },
    );
  });

  describe('/video/delete', () => {
    it('404 unknown, 403 not the author, 401 without token, 400 bad id', async () => {
      const v = await publishVideo(t, alice);
      expectError(
        await t.http.post('/video/delete').set('Authorization', alice.auth).send({ id: 99999999 }),
        404,
        'NOT_FOUND',
      );
      expectError(
        await t.http.post('/video/delete').set('Authorization', bob.auth).send({ id: v.id }),
        403,
        'FORBIDDEN',
      );
      expectError(await t.http.post('/video/delete').send({ id: v.id }), 401, 'UNAUTHENTICATED');
      expectError(
        await t.http.post('/video/delete').set('Authorization', alice.auth).send({ id: '1' }),
        400,
        'VALIDATION_FAILED',
      );
      await t.http.post('/video/getDetail').send({ id: v.id }).expect(200);
    });

    it('removes the video, its likes and comments, and the cached detail at once', async () => {
      const v = await publishVideo(t, alice);
      await t.http.post('/video/getDetail').send({ id: v.id }).expect(200); // cached now
      await t.http.post('/like/like').set('Authorization', bob.auth).send({ video_id: v.id }).expect(200);
      await t.http
        .post('/comment/publish')
        .set('Authorization', bob.auth)
        .send({ video_id: v.id, content: 'hi' })
        .expect(200);
      const res = await t.http
        .post('/video/delete')
        .set('Authorization', alice.auth)
        .send({ id: v.id })
        .expect(200);
      expect(res.body).toEqual({ message: expect.any(String) });
      expectError(await t.http.post('/video/getDetail').send({ id: v.id }), 404, 'NOT_FOUND');
      const likes = await t.sql<{ n: number }>('SELECT COUNT(*) AS n FROM likes WHERE video_id = ?', [v.id]);
      const comments = await t.sql<{ n: number }>('SELECT COUNT(*) AS n FROM comments WHERE video_id = ?', [
        v.id,
      ]);
      expect([Number(likes[0].n), Number(comments[0].n)]).toEqual([0, 0]);
      const list = await t.http
        .post('/video/listByAuthorID')
        .send({ author_id: alice.id, limit: 200 })
        .expect(200);
      expect(list.body.map((x: { id: number }) => x.id)).not.toContain(v.id);
      const liked = await t.http
        .post('/like/listMyLikedVideos')
        .set('Authorization', bob.auth)
        .send({})
        .expect(200);
      expect(liked.body.map((x: { id: number }) => x.id)).not.toContain(v.id);
      expectError(
        await t.http.post('/video/delete').set('Authorization', alice.auth).send({ id: v.id }),
        404,
        'NOT_FOUND',
      );
    });
  });
});
