import { Database } from '@app/core';
import { startApp, TestApp } from '../helpers/test-app';
import { PROFILES } from '../helpers/test-env';
import { insertAccounts, insertVideos, registerAndLogin } from './feed-fixtures';

/** The latest index's build (ids only, off the page's path, once per process): not a page load. */
const LATEST_INDEX_BUILD = /^SELECT v\.id, v\.create_time FROM videos v ORDER BY/;

/**
 * Counts SQL statements reading `videos`, repositories and raw queries alike: TypeORM's query
 * runner (repositories; every statement on SQLite) and, on MySQL, `Database.query` (raw reads go
 * straight to the pool there, as prepared statements).
 */
function countVideoReads(t: TestApp): { count: () => number; builds: () => number; restore: () => void } {
  const db = t.app.get(Database);
  const qr = db.dataSource.createQueryRunner();
  const proto = Object.getPrototypeOf(qr) as { query: (...args: unknown[]) => Promise<unknown> };
  void qr.release();
  let n = 0;
  let builds = 0;
  const see = (sql: string): void => {
    if (LATEST_INDEX_BUILD.test(sql)) builds++;
    else if (/^\s*SELECT/i.test(sql) && /FROM [`"]?videos[`"]?/i.test(sql)) n++;
  };
  const original = proto.query;
  proto.query = function (this: unknown, ...args: unknown[]) {
    see(String(args[0]));
    return original.apply(this, args);
  };
  const raw = db.query.bind(db);
  if (db.dialect === 'mysql') {
    db.query = <T>(sql: string, params?: unknown[]): Promise<T[]> => {
      see(sql);
      return raw<T>(sql, params);
    };
  }
  return {
    count: () => n,
    builds: () => builds,
    restore: () => {
      proto.query = original;
      if (db.dialect === 'mysql') delete (db as { query?: unknown }).query;
    },
  };
}

// Walks, cache-TTL convergence and a Redis cut take longer than jest's 5 s default.
jest.setTimeout(60_000);

describe.each(PROFILES)('feed and detail caches (%s)', (profile) => {
  let t: TestApp;
  let me: { id: number; token: string };

  beforeAll(async () => {
    t = await startApp(profile);
    me = await registerAndLogin(t, 'cache');
  });
  afterAll(async () => {
    await t?.close();
  });

  it('stampede: 200 concurrent getDetail on a cold key reach the database once', async () => {
    const [author] = await insertAccounts(t, 1);
    const [v] = await insertVideos(t, [
      { author_id: author, create_time: Date.now(), likes_count: 0, popularity: 0 },
    ]);
    const reads = countVideoReads(t);
    try {
      const res = await Promise.all(
        Array.from({ length: 200 }, () => t.http.post('/video/getDetail').send({ id: v.id })),
      );
      expect(res.every((r) => r.status === 200)).toBe(true);
      expect(reads.count()).toBe(1);
    } finally {
      reads.restore();
    }
  });

  it('stampede: 200 concurrent listLatest on a cold key reach the database once (all statements counted; the index build apart)', async () => {
    const reads = countVideoReads(t);
    try {
      const res = await Promise.all(
        Array.from({ length: 200 }, () => t.http.post('/feed/listLatest').send({ limit: 17 })),
      );
      expect(res.every((r) => r.status === 200)).toBe(true);
      expect(reads.count()).toBe(1);
      // With Redis, the page that missed the latest index also started its build: one, not 200.
      await new Promise((r) => setTimeout(r, 200));
      expect(reads.builds()).toBe(profile === 'full' ? 1 : 0);
    } finally {
      reads.restore();
    }
  });

  it('a like, comment, rename and delete show in getDetail at once and in the cached latest feed within its TTL', async () => {
    const [v] = await insertVideos(t, [
      { author_id: me.id, create_time: Date.now() + 60_000, likes_count: 0, popularity: 0 },
    ]);
    const detail = async (): Promise<{ status: number; body: Record<string, unknown> }> =>
      t.http.post('/video/getDetail').send({ id: v.id });
    const top = async (): Promise<Record<string, unknown> | undefined> =>
      (await t.http.post('/feed/listLatest').send({ limit: 1 }).expect(200)).body.video_list[0];
    /** Polls the cached feed until `check` holds; feeds converge within their 5 s TTL. */
    const converges = async (
      check: (item: Record<string, unknown> | undefined) => boolean,
    ): Promise<boolean> => {
      for (let i = 0; i < 80; i++) {
        if (check(await top())) return true;
        await new Promise((r) => setTimeout(r, 100));
      }
      return false;
    };
    expect((await detail()).status).toBe(200);
    expect((await top())?.id).toBe(v.id); // now cached with 0 likes

    await t.http
      .post('/like/like')
      .set('authorization', `Bearer ${me.token}`)
      .send({ video_id: v.id })
      .expect(200);
    expect((await detail()).body.likes_count).toBe(1);
    expect(await converges((i) => i?.likes_count === 1)).toBe(true);

    await t.http
      .post('/comment/publish')
      .set('authorization', `Bearer ${me.token}`)
      .send({ video_id: v.id, content: 'hello' })
      .expect(200);
    expect((await detail()).body.comments_count).toBe(1);
    expect(await converges((i) => i?.comments_count === 1)).toBe(true);

    const newName = `renamed${Date.now().toString(36)}`;
    const renamed = await t.http
      .post('/account/rename')
      .set('authorization', `Bearer ${me.token}`)
      .send({ new_username: newName })
      .expect(200);
    me.token = renamed.body.token as string;
    expect((await detail()).body.username).toBe(newName);
    expect(
      await converges((i) => (i?.author as { username: string } | undefined)?.username === newName),
    ).toBe(true);

    await t.http
      .post('/video/delete')
      .set('authorization', `Bearer ${me.token}`)
      .send({ id: v.id })
      .expect(200);
    expect((await detail()).status).toBe(404);
    expect(await converges((i) => i?.id !== v.id)).toBe(true);
  });

  it('a publish shows at once in the cached first latest pages, anonymous and logged in', async () => {
    const who = await registerAndLogin(t, 'pubfeed');
    const as = { authorization: `Bearer ${who.token}` };
    const firstIds = async (headers: Record<string, string>, limit: number): Promise<number[]> =>
      (await t.http.post('/feed/listLatest').set(headers).send({ limit }).expect(200)).body.video_list.map(
        (v: { id: number }) => v.id,
      );
    const publish = async (title: string): Promise<number> =>
      (
        await t.http
          .post('/video/publish')
          .set(as)
          .send({ title, play_url: 'https://cdn.example/v.mp4', cover_url: 'https://cdn.example/c.jpg' })
          .expect(200)
      ).body.id as number;
    await publish('first');
    for (let round = 0; round < 2; round++) {
      // Cached now, for two limits, anonymous and for the publisher.
      for (const limit of [1, 10]) {
        await firstIds({}, limit);
        await firstIds(as, limit);
      }
      const id = await publish(`round ${round}`);
      for (const limit of [1, 10]) {
        expect((await firstIds(as, limit))[0]).toBe(id);
        expect((await firstIds({}, limit))[0]).toBe(id);
      }
    }
  });

  it("a rename shows at once in the renamed caller's cached latest pages (SPEC §7.5), anonymous and logged in", async () => {
    const who = await registerAndLogin(t, 'renfeed');
    const v = (
      await t.http
        .post('/video/publish')
        .set({ authorization: `Bearer ${who.token}` })
        .send({
          title: 'rename me',
          play_url: 'https://cdn.example/v.mp4',
          cover_url: 'https://cdn.example/c.jpg',
        })
        .expect(200)
    ).body as { id: number };
    const as = (token: string) => ({ authorization: `Bearer ${token}` });
    const firstItem = async (headers: Record<string, string>, limit: number) =>
      (await t.http.post('/feed/listLatest').set(headers).send({ limit }).expect(200)).body.video_list[0] as {
        id: number;
        author: { username: string };
      };
    // Cached (this process's copy and the page cache) under the old name, for two limits.
    for (const limit of [1, 10]) {
      expect(await firstItem({}, limit)).toMatchObject({ id: v.id, author: { id: who.id } });
      expect(await firstItem(as(who.token), limit)).toMatchObject({ id: v.id });
    }
    const oldName = (await firstItem({}, 1)).author.username;
    const newName = `rn${Date.now().toString(36)}`;
    expect(oldName).not.toBe(newName);
    const renamed = await t.http
      .post('/account/rename')
      .set(as(who.token))
      .send({ new_username: newName })
      .expect(200);
    for (const limit of [1, 10]) {
      expect(await firstItem(as(renamed.body.token as string), limit)).toMatchObject({
        id: v.id,
        author: { id: who.id, username: newName },
      });
      expect((await firstItem({}, limit)).author.username).toBe(newName);
    }
    await t.http
      .post('/video/delete')
      .set(as(renamed.body.token as string))
      .send({ id: v.id })
      .expect(200);
  });

  it("a logged-in reader's latest pages show likes and comments at once, its own and others'; the anonymous page may keep its 5 s copy", async () => {
    const author = await registerAndLogin(t, 'lpauthor');
    const reader = await registerAndLogin(t, 'lpreader');
    const other = await registerAndLogin(t, 'lpother');
    const as = (who: { token: string }) => ({ authorization: `Bearer ${who.token}` });
    const res = await t.http
      .post('/video/publish')
      .set(as(author))
      .send({
        title: 'counted',
        play_url: 'https://cdn.example/v.mp4',
        cover_url: 'https://cdn.example/c.jpg',
      })
      .expect(200);
    const id = res.body.id as number;
    type Item = { id: number; likes_count: number; comments_count: number; is_liked: boolean };
    const item = async (body: object, who?: { token: string }): Promise<Item | undefined> => {
      const req = t.http.post('/feed/listLatest');
      if (who) void req.set(as(who));
      const page = await req.send(body).expect(200);
      return (page.body.video_list as Item[]).find((v) => v.id === id);
    };
    // Both pages read (and held) before the writes; a deeper page too (a cursor just above the video).
    const deep = { limit: 3, latest_time: Date.now() + 60_000, id_before: 0 };
    for (const body of [{ limit: 5 }, deep]) {
      expect(await item(body, reader)).toMatchObject({ likes_count: 0, comments_count: 0, is_liked: false });
      expect(await item(body)).toMatchObject({ likes_count: 0, comments_count: 0 });
    }

    await t.http.post('/like/like').set(as(reader)).send({ video_id: id }).expect(200);
    await t.http.post('/comment/publish').set(as(reader)).send({ video_id: id, content: 'mine' }).expect(200);
    for (const body of [{ limit: 5 }, deep]) {
      expect(await item(body, reader)).toMatchObject({ likes_count: 1, comments_count: 1, is_liked: true });
    }
    await t.http.post('/like/like').set(as(other)).send({ video_id: id }).expect(200);
    for (const body of [{ limit: 5 }, deep]) {
      expect(await item(body, reader)).toMatchObject({ likes_count: 2, comments_count: 1, is_liked: true });
      expect(await item(body, other)).toMatchObject({ likes_count: 2, comments_count: 1, is_liked: true });
    }
    await t.http.post('/like/unlike').set(as(reader)).send({ video_id: id }).expect(200);
    expect(await item({ limit: 5 }, reader)).toMatchObject({ likes_count: 1, is_liked: false });
    // The anonymous first page follows within the page cache's 5 s (SPEC §5).
    const end = Date.now() + 7000;
    let anonymous = await item({ limit: 5 });
    while (anonymous?.likes_count !== 1 && Date.now() < end) {
      await new Promise((r) => setTimeout(r, 200));
      anonymous = await item({ limit: 5 });
    }
    expect(anonymous).toMatchObject({ likes_count: 1, comments_count: 1, is_liked: false });
  });

  it("a delete leaves the cached latest pages (anonymous and logged in) and the follower's cached following page at once", async () => {
    const author = await registerAndLogin(t, 'delauthor');
    const fan = await registerAndLogin(t, 'delfan');
    const as = (who: { token: string }) => ({ authorization: `Bearer ${who.token}` });
    await t.http.post('/social/follow').set(as(fan)).send({ vlogger_id: author.id }).expect(200);
    const ids: number[] = [];
    for (let i = 0; i < 3; i++) {
      const res = await t.http
        .post('/video/publish')
        .set(as(author))
        .send({
          title: `del ${i}`,
          play_url: 'https://cdn.example/v.mp4',
          cover_url: 'https://cdn.example/c.jpg',
        })
        .expect(200);
      ids.push(res.body.id as number);
    }
    // Past the page cache of any earlier read: these pages are built (and cached) now.
    await new Promise((r) => setTimeout(r, 5200));
    const pageIds = (res: { body: { video_list: { id: number }[] } }): number[] =>
      res.body.video_list.map((v) => v.id);
    // Logged in first: the anonymous read after it would find the page it rebuilt.
    const reads = {
      loggedIn: () => t.http.post('/feed/listLatest').set(as(fan)).send({ limit: 2 }).expect(200),
      anonymous: () => t.http.post('/feed/listLatest').send({ limit: 2 }).expect(200),
      following: () => t.http.post('/feed/listByFollowing').set(as(fan)).send({ limit: 2 }).expect(200),
    };
    for (const read of Object.values(reads)) {
      expect(pageIds(await read())).toEqual([ids[2], ids[1]]);
      expect(pageIds(await read())).toEqual([ids[2], ids[1]]); // now from the cache
    }
    await t.http.post('/video/delete').set(as(author)).send({ id: ids[2] }).expect(200);
    for (const read of Object.values(reads)) expect(pageIds(await read())).toEqual([ids[1], ids[0]]);
  });
});
