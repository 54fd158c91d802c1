import type { Cluster } from 'ioredis';
import { CacheKeys, CacheStore, minuteBucket } from '@app/cache';
import { startRedisCluster, type RedisClusterHandle } from '../helpers/redis-cluster';
import { startApp, type TestApp } from '../helpers/test-app';
import { PROFILES } from '../helpers/test-env';
import { FeedRepository, Timelines } from '@app/feed';
import { follow, insertAccounts, insertVideos, registerAndLogin } from './feed-fixtures';

/**
 * The cache on a 3-master Redis Cluster started for this suite (REDIS_CLUSTER_NODES): every key
 * family and script works (keys used together share a hash tag), and a master killed mid-run costs
 * no request: the breaker and the database fallbacks answer, the cache works again once the master
 * is back, and the counters are exact. Full profile only: it is about Redis.
 */
// Full profile only (it is about the Redis/MySQL servers): skipped on TEST_PROFILES=embedded.
const describeFull = PROFILES.includes('full') ? describe : describe.skip;

describeFull('Redis Cluster (3 masters, full)', () => {
  let cluster: RedisClusterHandle;
  let t: TestApp;
  let r: Cluster;
  let prefix: string;
  let users: { id: number; token: string }[];
  let videos: number[];

  const auth = (u: { token: string }): [string, string] => ['authorization', `Bearer ${u.token}`];
  const store = (): CacheStore => t.app.get(CacheStore);
  const waitFor = async (what: string, cond: () => Promise<boolean>, ms = 15_000): Promise<void> => {
    const deadline = Date.now() + ms;
    while (!(await cond())) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((res) => setTimeout(res, 50));
    }
  };

  beforeAll(async () => {
    cluster = await startRedisCluster({ nodeTimeoutMs: 2000 });
    t = await startApp('full', {
      redisClusterNodes: cluster.nodes,
      // Limits high enough for the run, low enough to see one refusal (like: 2 routes share it).
      env: { RATE_LIMITS: 'like=400/60,comment=400/60,follow=400/60,publish=3/60' },
    });
    prefix = t.testEnv.redisPrefix ?? '';
    r = cluster.client();
    users = [];
    for (let i = 0; i < 4; i++) users.push(await registerAndLogin(t, `rc${i}`));
    videos = [];
    for (let i = 0; i < 6; i++) {
      const res = await t.http
        .post('/video/publish')
        .set(...auth(users[i % 2]))
        .send({
          title: `clip ${i}`,
          play_url: 'https://cdn.example.com/v.mp4',
          cover_url: 'https://cdn.example.com/c.jpg',
        });
      expect(res.status).toBe(200);
      videos.push(res.body.id as number);
    }
  }, 120_000);

  afterAll(async () => {
    r?.disconnect();
    await t?.close();
    await cluster?.stop();
  });

  it('tokens, feeds, details, the hot list (one script over 61 keys), locks and rate limits all run on the cluster', async () => {
    expect(store().state()).toBe('up');
    expect(videos).toHaveLength(6);
    // Token: written at login, read on every call.
    const u = users[0];
    expect(await r.get(prefix + CacheKeys.token(u.id))).not.toBeNull();
    // Anonymous latest feed and following feed: cache-aside under a lock.
    await t.http.post('/feed/listLatest').send({ limit: 7 }).expect(200);
    expect(await r.exists(prefix + CacheKeys.latestFeed(7, '0'))).toBe(1);
    await t.http
      .post('/social/follow')
      .set(...auth(users[2]))
      .send({ vlogger_id: users[0].id })
      .expect(200);
    const fol = await t.http
      .post('/feed/listByFollowing')
      .set(...auth(users[2]))
      .send({ limit: 5 })
      .expect(200);
    expect(fol.body.video_list.length).toBeGreaterThan(0);
    expect(await r.exists(prefix + CacheKeys.followingFeed(5, users[2].id, '0'))).toBe(1);
    // Detail, with its negative entry for an unknown id.
    await t.http.post('/video/getDetail').send({ id: videos[0] }).expect(200);
    expect(JSON.parse((await r.get(prefix + CacheKeys.videoDetail(videos[0]))) ?? 'null')).toMatchObject({
      id: videos[0],
    });
    await t.http.post('/video/getDetail').send({ id: 987_654_321 }).expect(404);
    expect(await r.get(prefix + CacheKeys.videoDetail(987_654_321))).toBe('null');
    // Likes feed the hot list: the bucket script (dedupe key + bucket, one slot) and the snapshot
    // script (ZUNIONSTORE of 60 buckets into the snapshot, one slot).
    const likedOnPage = async (): Promise<number[]> =>
      (
        (
          await t.http
            .post('/feed/listLatest')
            .set(...auth(users[1]))
            .send({ limit: 10 })
            .expect(200)
        ).body.video_list as { id: number; is_liked: boolean }[]
      )
        .filter((v) => v.is_liked)
        .map((v) => v.id)
        .sort();
    expect(await likedOnPage()).toEqual([]); // loads users[1]'s liked set
    expect(await r.sismember(prefix + CacheKeys.likedSet(users[1].id), '0')).toBe(1);
    for (const v of videos.slice(0, 3)) {
      await t.http
        .post('/like/like')
        .set(...auth(users[1]))
        .send({ video_id: v })
        .expect(200);
    }
    // Each like dropped the set (its own slot) before answering; the next page reloads it.
    expect(await likedOnPage()).toEqual(videos.slice(0, 3).sort());
    await t.http
      .post('/comment/publish')
      .set(...auth(users[3]))
      .send({ video_id: videos[0], content: 'hi' })
      .expect(200);
    const bucket = prefix + CacheKeys.hotBucket(minuteBucket(Date.now()));
    await waitFor('hot bucket', async () => (await r.zscore(bucket, String(videos[0]))) === '2');
    const hot = await t.http.post('/feed/listByPopularity').send({ limit: 10 }).expect(200);
    expect(hot.body.video_list.map((v: { id: number }) => v.id)).toEqual([videos[0], videos[2], videos[1]]);
    expect(await r.exists(prefix + CacheKeys.hotSnapshot(hot.body.as_of as number))).toBe(1);
    // Rate limits (publish=3/60 per account): the fourth publish of users[0] is refused.
    const refused = await t.http
      .post('/video/publish')
      .set(...auth(users[0]))
      .send({
        title: 'one too many',
        play_url: 'https://cdn.example.com/v.mp4',
        cover_url: 'https://cdn.example.com/c.jpg',
      });
    expect(refused.status).toBe(429);
    expect(await r.get(`${prefix}${CacheKeys.rateLimit('publish', `a:${users[0].id}`)}`)).toBe('4');
    // The keys really are spread over the masters.
    const owners = new Set(
      await Promise.all(
        [
          CacheKeys.token(users[0].id),
          CacheKeys.token(users[1].id),
          CacheKeys.token(users[2].id),
          CacheKeys.token(users[3].id),
          CacheKeys.videoDetail(videos[0]),
          CacheKeys.latestFeed(7, '0'),
          CacheKeys.hotBucket('x'),
        ].map((k) => cluster.portOf(prefix + k)),
      ),
    );
    expect(owners.size).toBeGreaterThanOrEqual(2);
  });

  it("each node's commands of one turn leave in one write (batched-writes.ts)", async () => {
    const out = await store().withRedis(async (client, p) => {
      const nodes = (client as Cluster).nodes('master');
      // The node sockets' two ways into the system (net.Socket's own methods, not in its types).
      const spies = nodes.flatMap((n) => {
        const socket = n.stream as unknown as Record<'_write' | '_writev', (...args: unknown[]) => void>;
        return [jest.spyOn(socket, '_write'), jest.spyOn(socket, '_writev')];
      });
      try {
        // 30 keys over the three masters' slots, each its own command.
        const sets = Promise.all(Array.from({ length: 30 }, (_, i) => client.set(`${p}bw:${i}`, String(i))));
        // Counted once the turn's writes are out (the batch leaves in this check phase, before
        // this callback), so that commands the app sends in later turns are not counted.
        await new Promise((resolve) => setImmediate(resolve));
        const writes = spies.reduce((n, s) => n + s.mock.calls.length, 0);
        return { got: await sets, writes, masters: nodes.length };
      } finally {
        for (const s of spies) s.mockRestore();
      }
    });
    expect(out?.got).toEqual(Array.from({ length: 30 }, () => 'OK'));
    expect(out?.masters).toBe(3);
    // One write per master at most (30 without the batching).
    expect(out?.writes).toBeLessThanOrEqual(3);
    expect(out?.writes).toBeGreaterThanOrEqual(1);
  });

  it("a following page past the timeline is kept in the timeline's deep parts on the cluster (one slot)", async () => {
    // Accounts inserted, not registered: the suite's register budget is the next test's.
    const [readerId, ...authors] = await insertAccounts(t, 4, 'rcdeep');
    const reader = { id: readerId };
    const base = Date.now() - 10 * 60_000;
    await insertVideos(
      t,
      Array.from({ length: 900 }, (_, i) => ({
        author_id: authors[i % 3],
        create_time: base - i * 1000,
        likes_count: 0,
        popularity: 0,
      })),
    );
    await follow(t, reader.id, authors);
    try {
      const [timelines, repo] = [t.app.get(Timelines), t.app.get(FeedRepository)];
      // A page Redis could not answer (a command past its timeout on a loaded host opens the
      // breaker for a second) is SQL's, as it should be: each read is repeated until the cache
      // answers it, and must within the wait.
      const cached = async (take: number, cursor: number): Promise<number[]> => {
        let rows: { id: number | string }[] | undefined;
        await waitFor(`a cached following page below ${cursor}`, async () => {
          rows = await timelines.page(reader.id, take, cursor, 0);
          return rows !== undefined;
        });
        return (rows ?? []).map((v) => Number(v.id));
      };
      const ids = async (cursor: number): Promise<number[]> =>
        (await repo.following(reader.id, 11, cursor, 0)).map((v) => Number(v.id));
      expect(await cached(2, 0)).toHaveLength(2); // the timeline (800), built
      const cursor = base - 850 * 1000;
      expect(await cached(11, cursor)).toEqual(await ids(cursor));
      expect(await r.zcard(prefix + CacheKeys.timelinePartsDir(reader.id))).toBe(1);
      expect(await cached(11, cursor - 5000)).toEqual(await ids(cursor - 5000));
      expect(await r.zcard(prefix + CacheKeys.timelinePartsDir(reader.id))).toBe(1); // the same part answered
    } finally {
      // The follows were inserted without their counts: out again, for the next test's exact counts
      // (also when an assertion above failed: it is the next test's precondition).
      await t.sql('DELETE FROM socials WHERE follower_id = ?', [reader.id]);
    }
  });

  it('a master killed mid-run (SIGKILL): every request still answers; once it is back the cache works again and the counts are exact', async () => {
    // The master that holds the hot list's slot (and whatever else hashed there).
    const victim = cluster.ports.indexOf(await cluster.portOf(prefix + CacheKeys.hotBucket('x')));
    const statuses = new Map<string, number>();
    let requests = 0;
    const count = (route: string, status: number): void => {
      requests++;
      const k = `${route} ${status}`;
      statuses.set(k, (statuses.get(k) ?? 0) + 1);
    };
    let step = 0;
    let slowest = 0;
    const one = async (): Promise<void> => {
      // Every kind of request, each by every user in turn, on every video in turn.
      const ui = Math.floor(step / 9) % users.length;
      const u = users[ui];
      const other = users[(ui + 1 + (Math.floor(step / 36) % 3)) % users.length];
      const v = videos[Math.floor(step / 7) % videos.length];
      const kind = step++ % 9;
      const send = async (route: string, body: object, who?: { token: string }): Promise<number> => {
        const req = t.http.post(route);
        if (who) void req.set(...auth(who));
        const started = Date.now();
        const res = await req.send(body);
        slowest = Math.max(slowest, Date.now() - started);
        count(route, res.status);
        return res.status;
      };
      const statusesOk = (s: number, ok: number[]): void => expect(ok).toContain(s);
      switch (kind) {
        case 0:
          statusesOk(await send('/like/like', { video_id: v }, u), [200, 409]);
          break;
        case 1:
          statusesOk(
            await send('/like/unlike', { video_id: videos[(step + 1) % videos.length] }, u),
            [200, 409],
          );
          break;
        case 2:
          statusesOk(await send('/comment/publish', { video_id: v, content: `c${step}` }, u), [200]);
          break;
        case 3:
          statusesOk(await send('/social/follow', { vlogger_id: other.id }, u), [200, 400, 409]);
          break;
        case 4:
          statusesOk(await send('/social/unfollow', { vlogger_id: other.id }, u), [200, 400, 404, 409]);
          break;
        case 5:
          statusesOk(await send('/feed/listLatest', { limit: 3 + (step % 4) }), [200]);
          break;
        case 6:
          statusesOk(await send('/feed/listByPopularity', { limit: 4 }, u), [200]);
          break;
        case 7:
          statusesOk(await send('/video/getDetail', { id: v }), [200]);
          break;
        default:
          statusesOk(await send('/like/isLiked', { video_id: v }, u), [200]);
          statusesOk(await send('/feed/listByFollowing', { limit: 5 }, u), [200]);
      }
    };

    for (let i = 0; i < 30; i++) await one();
    await cluster.kill(victim);
    const killedAt = Date.now();
    // Past the node timeout the cluster reports itself failed (every slot refused), not only the
    // dead master's slots: both phases are in this window.
    let sawDown = false;
    while (Date.now() - killedAt < 5000) {
      await one();
      if (store().state() === 'down') sawDown = true;
    }
    expect(sawDown).toBe(true);
    const duringOutage = requests;
    await cluster.restart(victim);
    await waitFor('the cache to be up again', async () => {
      await one();
      return store().state() === 'up';
    });
    for (let i = 0; i < 30; i++) await one();

    // No request failed: every status was one its route allows (checked above), none a 5xx.
    expect([...statuses.keys()].filter((k) => / 5\d\d$/.test(k))).toEqual([]);
    expect(duringOutage).toBeGreaterThan(50);

    // The cache works again: a new feed page, a detail and a token are cached, the hot list moves.
    // Each read is repeated until its key stays: the run's last likes and comments are still being
    // applied, and each one's invalidation (and its second delete 500 ms later) may remove a key
    // the read just filled, as it should.
    await waitFor('feed key', async () => {
      await t.http.post('/feed/listLatest').send({ limit: 11 }).expect(200);
      return (await r.exists(prefix + CacheKeys.latestFeed(11, '0'))) === 1;
    });
    await waitFor('detail entry', async () => {
      await t.http.post('/video/getDetail').send({ id: videos[5] }).expect(200);
      // The entry itself, not a change's marker.
      const raw = await r.get(prefix + CacheKeys.videoDetail(videos[5]));
      return raw !== null && (JSON.parse(raw) as { id?: number }).id === videos[5];
    });
    const fresh = await registerAndLogin(t, 'rcback');
    expect(await r.get(prefix + CacheKeys.token(fresh.id))).not.toBeNull();
    await t.http
      .post('/comment/publish')
      .set(...auth(fresh))
      .send({ video_id: videos[4], content: 'back' })
      .expect(200);
    const bucket = prefix + CacheKeys.hotBucket(minuteBucket(Date.now()));
    await waitFor(
      'hot bucket after the restart',
      async () => Number(await r.zscore(bucket, String(videos[4]))) >= 1,
    );

    // Counts exact: every counter equals its rows.
    const off = await t.sql<{ id: number }>(
      `SELECT v.id FROM videos v
          WHERE v.likes_count <> (SELECT COUNT(*) FROM likes l WHERE l.video_id = v.id)
             OR v.comments_count <> (SELECT COUNT(*) FROM comments c WHERE c.video_id = v.id)
             OR v.popularity <> v.likes_count + v.comments_count`,
    );
    expect(off).toEqual([]);
    const offAccounts = await t.sql<{ id: number }>(
      `SELECT a.id FROM accounts a
          WHERE a.follower_count <> (SELECT COUNT(*) FROM socials s WHERE s.vlogger_id = a.id)
             OR a.vlogger_count <> (SELECT COUNT(*) FROM socials s WHERE s.follower_id = a.id)`,
    );
    expect(offAccounts).toEqual([]);
    process.stdout.write(
      `redis cluster: master :${cluster.ports[victim]} killed for ${Date.now() - killedAt} ms, ${requests} requests, ${duringOutage} by the restart, slowest ${slowest} ms, statuses ${JSON.stringify(Object.fromEntries(statuses))}\n`,
    );
  }, 120_000);
});
