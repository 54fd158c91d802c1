import { createAccount, TestAccount } from '../factories/accounts';
import { publishVideo } from '../factories/videos';
import { expectError, startApp, TestApp } from '../helpers/test-app';
import { PROFILES } from '../helpers/test-env';
import { byTimeDesc, FixtureVideo, insertAccounts, insertVideos, tagVideos, walk } from './feed-fixtures';

const LIMITS = [1, 7, 10, 50];

// Page walks at limit 1 take a few hundred requests.
jest.setTimeout(60_000);

interface Item {
  id: number;
  tags: string[];
  is_liked: boolean;
}

describe.each(PROFILES)('tags (%s)', (profile) => {
  let t: TestApp;
  let alice: TestAccount;
  let bob: TestAccount;
  /** 150 videos on 5 create_times (30 per millisecond): tags `walk` (100), `other` (100). */
  let fixtures: FixtureVideo[];
  const tagsOf = new Map<number, string[]>();

  /** Links fixture videos to tags the way publish does ({@link tagVideos}), remembering them. */
  async function tagFixtures(videos: FixtureVideo[], tagsFor: (i: number) => string[]): Promise<void> {
    await tagVideos(t, videos, tagsFor);
    for (const [i, v] of videos.entries()) tagsOf.set(v.id, tagsFor(i));
  }

  beforeAll(async () => {
    t = await startApp(profile);
    alice = await createAccount(t, 'alice');
    bob = await createAccount(t, 'bob');
    const authors = await insertAccounts(t, 6);
    const base = Date.now() - 60_000;
    fixtures = await insertVideos(
      t,
      Array.from({ length: 150 }, (_, i) => ({
        author_id: authors[i % authors.length],
        create_time: base - (i % 5) * 1000,
        likes_count: i % 4,
        popularity: i % 4,
      })),
    );
    const fixtureTags = (i: number): string[] => [
      ...(i % 3 !== 2 ? ['walk'] : []),
      ...(i % 3 !== 0 ? ['other'] : []),
    ];
    await tagFixtures(fixtures, fixtureTags);
  });
  afterAll(async () => {
    await t?.close();
  });

  const post = (route: string, who?: TestAccount | null, auth?: string) => (body: object) => {
    const req = t.http.post(route);
    const header = auth ?? who?.auth;
    if (header) void req.set('Authorization', header);
    return req.send(body);
  };
  const byTag = (body: Record<string, unknown>, who?: TestAccount) => post('/feed/listByTag', who)(body);
  const expectedFor = (tag: string): number[] =>
    fixtures
      .filter((v) => tagsOf.get(v.id)?.includes(tag))
      .sort(byTimeDesc)
      .map((v) => v.id);

  it('publish parses #tags of title and description: NFKC, lower case, first appearance, at most 10', async () => {
    const v = await publishVideo(t, alice, {
      title: 'Trip #Tokyo ＃ＦＯＯＤ',
      description: `Cafe\u0301 #Cafe\u0301 #tokyo #Straße mail#me #${'x'.repeat(51)} #t1 #t2 #t3 #t4 #t5 #t6 #t7`,
    });
    expect(v.tags).toEqual(['tokyo', 'food', 'café', 'straße', 't1', 't2', 't3', 't4', 't5', 't6']);
    expect(v.title).toBe('Trip #Tokyo ＃ＦＯＯＤ'); // the text itself is kept as sent
    const plain = await publishVideo(t, alice, { title: 'no tags', description: '' });
    expect(plain.tags).toEqual([]);
    tagsOf.set(v.id, v.tags as string[]);
    tagsOf.set(plain.id, []);
  });

  it('every Video carries its tags: publish, getDetail, listByAuthorID, listMyLikedVideos', async () => {
    const v = await publishVideo(t, bob, { title: '#One #two', description: 'and #THREE #one' });
    expect(v.tags).toEqual(['one', 'two', 'three']);
    const detail = await t.http.post('/video/getDetail').send({ id: v.id }).expect(200);
    expect(detail.body).toEqual(v);
    const cached = await t.http.post('/video/getDetail').send({ id: v.id }).expect(200);
    expect(cached.body.tags).toEqual(['one', 'two', 'three']);
    const list = await t.http.post('/video/listByAuthorID').send({ author_id: bob.id }).expect(200);
    expect(list.body).toEqual([v]);
    await post('/like/like', alice)({ video_id: v.id }).expect(200);
    const liked = await post('/like/listMyLikedVideos', alice)({}).expect(200);
    expect(liked.body[0]).toMatchObject({ id: v.id, tags: ['one', 'two', 'three'] });
    tagsOf.set(v.id, v.tags as string[]);
  });

  it('every feed item carries its tags ([] when none): latest, likes count, popularity, following, tag', async () => {
    const followed = await publishVideo(t, alice, { title: 'followed #Feed', description: '' });
    tagsOf.set(followed.id, ['feed']);
    await post('/social/follow', bob)({ vlogger_id: alice.id }).expect(200);
    const check = (items: Item[]): void => {
      for (const item of items)
        expect({ id: item.id, tags: item.tags }).toEqual({ id: item.id, tags: tagsOf.get(item.id) });
    };
    const latest = await walk(post('/feed/listLatest'), { limit: 50 }, (p) => ({
      latest_time: p.next_time,
      id_before: p.next_id_before,
    }));
    expect(latest.ids).toHaveLength(tagsOf.size);
    for (const [route, next] of [
      [
        '/feed/listLatest',
        (p: Record<string, unknown>) => ({ latest_time: p.next_time, id_before: p.next_id_before }),
      ],
      [
        '/feed/listLikesCount',
        (p: Record<string, unknown>) => ({
          likes_count_before: p.next_likes_count_before,
          id_before: p.next_id_before,
        }),
      ],
      ['/feed/listByPopularity', (p: Record<string, unknown>) => ({ as_of: p.as_of, offset: p.next_offset })],
      [
        '/feed/listByFollowing',
        (p: Record<string, unknown>) => ({ latest_time: p.next_time, id_before: p.next_id_before }),
      ],
      [
        '/feed/listByTag',
        (p: Record<string, unknown>) => ({ latest_time: p.next_time, id_before: p.next_id_before }),
      ],
    ] as const) {
      let cursor: Record<string, unknown> = { limit: 50, tag_name: 'other' };
      let seen = 0;
      for (let page = 0; page < 20; page++) {
        const res = await post(route, bob)(cursor).expect(200);
        check(res.body.video_list as Item[]);
        seen += res.body.video_list.length;
        if (!res.body.has_more) break;
        cursor = { ...cursor, ...next(res.body as Record<string, unknown>) };
      }
      expect(seen).toBeGreaterThan(0);
    }
    const following = await post('/feed/listByFollowing', bob)({ limit: 5 }).expect(200);
    expect(following.body.video_list[0]).toMatchObject({ id: followed.id, tags: ['feed'] });
  });

  it.each(LIMITS)(
    'listByTag walks every video of the tag once, newest first, with ties (limit %i)',
    async (limit) => {
      for (const tag of ['walk', 'other']) {
        const expected = expectedFor(tag);
        const { ids, pages } = await walk(post('/feed/listByTag'), { tag_name: tag, limit }, (p) => ({
          latest_time: p.next_time,
          id_before: p.next_id_before,
        }));
        expect(ids).toEqual(expected);
        expect(pages).toBe(Math.ceil(expected.length / limit));
      }
    },
  );

  it('tag_name with or without #, in any case or width, names the same tag', async () => {
    const first = (await byTag({ tag_name: 'walk', limit: 7 }).expect(200)).text;
    for (const tag_name of ['#walk', 'WALK', '  #Walk  ', '＃ＷＡＬＫ']) {
      expect((await byTag({ tag_name, limit: 7 }).expect(200)).text).toBe(first);
    }
  });

  it('the listLatest shape and cursor rules: exact pair, latest_time alone, empty page echoes the cursor', async () => {
    const expected = expectedFor('walk');
    const p1 = await byTag({ tag_name: 'walk', limit: 7 }).expect(200);
    expect(Object.keys(p1.body).sort()).toEqual(['has_more', 'next_id_before', 'next_time', 'video_list']);
    const top = fixtures.find((v) => v.id === expected[0])!;
    expect(p1.body.video_list[0]).toEqual({
      id: top.id,
      author: { id: top.author_id, username: `author${top.author_id}` },
      title: expect.any(String),
      description: '',
      play_url: 'https://cdn.example.com/v.mp4',
      cover_url: 'https://cdn.example.com/c.jpg',
      create_time: Math.floor(top.create_time / 1000),
      likes_count: top.likes_count,
      comments_count: 0,
      is_liked: false,
      tags: tagsOf.get(top.id),
    });
    const last = fixtures.find((v) => v.id === expected[6])!;
    expect(p1.body).toMatchObject({ next_time: last.create_time, next_id_before: last.id, has_more: true });
    // latest_time alone: strictly older than that millisecond (what older clients send).
    const older = await byTag({ tag_name: 'walk', limit: 50, latest_time: last.create_time }).expect(200);
    const olderIds = older.body.video_list.map((v: Item) => v.id);
    expect(olderIds).toEqual(
      expected.filter((id) => fixtures.find((v) => v.id === id)!.create_time < last.create_time).slice(0, 50),
    );
    expect(
      (await byTag({ tag_name: 'walk', limit: 5, latest_time: 1000, id_before: 7 }).expect(200)).body,
    ).toEqual({ video_list: [], next_time: 1000, next_id_before: 7, has_more: false });
    // Unknown tags, and names no tag can have, are empty pages.
    for (const tag_name of ['nosuchtag', 'two words', '##walk', 'x'.repeat(60)]) {
      expect((await byTag({ tag_name }).expect(200)).body).toEqual({
        video_list: [],
        next_time: 0,
        next_id_before: 0,
        has_more: false,
      });
    }
    // limit: absent = 10, above 50 clamped.
    expect((await byTag({ tag_name: 'walk' }).expect(200)).body.video_list).toHaveLength(10);
    expect((await byTag({ tag_name: 'walk', limit: 500 }).expect(200)).body.video_list).toHaveLength(50);
  });

  it("is_liked is the viewer's own, false for anonymous", async () => {
    const expected = expectedFor('other');
    const liked = new Set([expected[0], expected[2]]);
    for (const id of liked) await post('/like/like', bob)({ video_id: id }).expect(200);
    const mine = await byTag({ tag_name: 'other', limit: 3 }, bob).expect(200);
    expect(mine.body.video_list.map((v: Item) => [v.id, v.is_liked])).toEqual(
      expected.slice(0, 3).map((id) => [id, liked.has(id)]),
    );
    const anon = await byTag({ tag_name: 'other', limit: 3 }).expect(200);
    expect(anon.body.video_list.map((v: Item) => v.is_liked)).toEqual([false, false, false]);
    const other = await byTag({ tag_name: 'other', limit: 3 }, alice).expect(200);
    expect(other.body.video_list.map((v: Item) => v.is_liked)).toEqual([false, false, false]);
  });

  it("a deleted video leaves its tags' feeds at once", async () => {
    const vs = [];
    for (let i = 0; i < 3; i++)
      vs.push(await publishVideo(t, alice, { title: `#Ephemeral ${i}`, description: '#gone' }));
    const ids = async (tag: string) =>
      (await byTag({ tag_name: tag }).expect(200)).body.video_list.map((v: Item) => v.id);
    expect(await ids('ephemeral')).toEqual([vs[2].id, vs[1].id, vs[0].id]);
    await post('/video/delete', alice)({ id: vs[1].id }).expect(200);
    expect(await ids('ephemeral')).toEqual([vs[2].id, vs[0].id]);
    expect(await ids('gone')).toEqual([vs[2].id, vs[0].id]);
    const rows = await t.sql<{ n: number }>('SELECT COUNT(*) AS n FROM video_tags WHERE video_id = ?', [
      vs[1].id,
    ]);
    expect(Number(rows[0].n)).toBe(0);
  });

  it('concurrent publishes of one new tag create it once and list every video', async () => {
    const tag = `fresh${Date.now().toString(36)}`;
    const results = await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        post(
          '/video/publish',
          i % 2 ? alice : bob,
        )({
          title: `#${tag} #Also${tag} ${i}`,
          play_url: '/static/videos/x.mp4',
          cover_url: '/static/covers/x.jpg',
        }),
      ),
    );
    for (const r of results) expect(r.status).toBe(200);
    const rows = await t.sql<{ n: number }>('SELECT COUNT(*) AS n FROM tags WHERE name IN (?, ?)', [
      tag,
      `also${tag}`,
    ]);
    expect(Number(rows[0].n)).toBe(2);
    const listed = (await byTag({ tag_name: `#ALSO${tag}`, limit: 50 }).expect(200)).body.video_list.map(
      (v: Item) => v.id,
    );
    expect(listed.sort()).toEqual(results.map((r) => r.body.id as number).sort());
  });

  it('400: empty or missing tag_name, wrong types, bad cursors — before 401', async () => {
    const bad: Record<string, unknown>[] = [
      {},
      { tag_name: '' },
      { tag_name: '   ' },
      { tag_name: '#' },
      { tag_name: '##' },
      { tag_name: ' ＃ ' },
      { tag_name: ' ＃＃# ' },
      { tag_name: 5 },
      { tag_name: ['walk'] },
      { tag_name: 'x'.repeat(201) },
      { tag_name: 'walk', limit: -1 },
      { tag_name: 'walk', limit: 1.5 },
      { tag_name: 'walk', latest_time: -5 },
      { tag_name: 'walk', id_before: '3' },
    ];
    for (const body of bad) {
      const res = await byTag(body);
      expect(expectError(res, 400, 'VALIDATION_FAILED').details?.[0]?.field ?? 'none').toMatch(
        /tag_name|limit|latest_time|id_before/,
      );
      expectError(await post('/feed/listByTag', null, 'Bearer not-a-token')(body), 400, 'VALIDATION_FAILED');
    }
    expectError(await byTag({ tag_name: '#' }), 400, 'VALIDATION_FAILED', 'tag_name must name a tag');
    expectError(await t.http.post('/feed/listByTag').send([1]), 400, 'VALIDATION_FAILED');
  });

  it('401 for a token that is present but invalid (anonymous is fine)', async () => {
    expectError(
      await post('/feed/listByTag', null, 'Bearer not-a-token')({ tag_name: 'walk' }),
      401,
      'UNAUTHENTICATED',
    );
    expectError(
      await post('/feed/listByTag', null, 'Basic abc')({ tag_name: 'walk' }),
      401,
      'UNAUTHENTICATED',
    );
    await byTag({ tag_name: 'walk' }).expect(200);
  });
});
