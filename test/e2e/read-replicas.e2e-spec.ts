import { CacheKeys, CacheStore } from '@app/cache';
import { Database } from '@app/core';
import { markDetailsChanged } from '@app/video';
import { MetricsService } from '../../apps/api/src/metrics/metrics.service';
import { startMariadbPair, type MariadbPairHandle } from '../helpers/mariadb-pair';
import { startApp, type TestApp } from '../helpers/test-app';
import { PROFILES, redisClient } from '../helpers/test-env';
import {
  byLikesDesc,
  byTimeDesc,
  follow,
  insertAccounts,
  insertVideos,
  registerAndLogin,
  walk,
} from './feed-fixtures';

/**
 * Read replicas (DATABASE_REPLICA_URLS) on a MariaDB primary + replica started for this suite:
 * feeds, lists and details read the replica; writes, locks and a writer's own reads use the
 * primary (SPEC §7 read-your-writes); a replica that stops replicating, lags past REPLICA_MAX_LAG
 * or dies is skipped, and used again once it is back. "Read from the replica" is observed with
 * marker rows written on the replica alone (root may write there despite read_only; the primary
 * never has them). Full profile only: it is about MySQL.
 */
// Full profile only (it is about the Redis/MySQL servers): skipped on TEST_PROFILES=embedded.
const describeFull = PROFILES.includes('full') ? describe : describe.skip;

describeFull('read replicas (MariaDB primary + replica, full)', () => {
  const MAX_LAG = 3;
  let pair: MariadbPairHandle;
  let t: TestApp;
  let db: Database;
  let n = 0;
  /** A latest-feed request no earlier one made (a cursor a day ahead): the feed caches never answer it. */
  const freshLatest = (): { limit: number; latest_time: number } => ({
    limit: 40,
    latest_time: Date.now() + 86_400_000 + n++,
  });

  const auth = (u: { token: string }): [string, string] => ['authorization', `Bearer ${u.token}`];
  const replicaState = (): string => db.replicaStatus()[0]?.state ?? 'none';
  const waitFor = async (
    what: string,
    cond: () => Promise<boolean> | boolean,
    ms = 20_000,
  ): Promise<void> => {
    const deadline = Date.now() + ms;
    while (!(await cond())) {
      if (Date.now() > deadline)
        throw new Error(`timed out waiting for ${what} (replica ${JSON.stringify(db.replicaStatus())})`);
      await new Promise((res) => setTimeout(res, 50));
    }
  };
  /** `/healthz` and `/metrics` report the replica in `state` (what an operator sees). */
  const expectReported = async (state: 'up' | 'lagging' | 'down'): Promise<void> => {
    const health = await t.http.get('/healthz').expect(200);
    expect(health.body.replicas).toEqual([
      {
        replica: expect.stringMatching(/^127\.0\.0\.1:\d+$/),
        state,
        // Unknown while unreachable or while replication is stopped (the only lagging state used here).
        lag_seconds: state === 'up' ? expect.any(Number) : null,
      },
    ]);
    const text = await t.app.get(MetricsService).registry.metrics();
    expect(text).toMatch(
      new RegExp(
        `^db_replica_up\\{replica="127\\.0\\.0\\.1:\\d+",state="${state}"\\} ${state === 'up' ? 1 : 0}$`,
        'm',
      ),
    );
    if (state === 'up') expect(text).toMatch(/^db_replica_lag_seconds\{replica="127\.0\.0\.1:\d+"\} \d+$/m);
  };
  const onReplica = (q: string, params: unknown[] = []): Promise<unknown[]> =>
    pair.sql('replica', q.replaceAll('{db}', `\`${t.testEnv.dbName}\``), params);
  const setDelay = async (seconds: number): Promise<void> => {
    await pair.sql('replica', 'STOP SLAVE');
    await pair.sql('replica', `CHANGE MASTER TO MASTER_DELAY = ${seconds}`);
    await pair.sql('replica', 'START SLAVE');
  };
  /** A video on the replica alone; returns its id. */
  let marker = 0;
  const markerVideo = async (authorId: number): Promise<number> => {
    const id = 900_000_000 + ++marker;
    await onReplica(
      `INSERT INTO {db}.videos (id, author_id, username, title, description, play_url, cover_url, create_time, likes_count, comments_count, popularity)
         VALUES (?, ?, 'replica-only', 'replica only', '', 'https://cdn.example.com/v.mp4', 'https://cdn.example.com/c.jpg', ?, 0, 0, 0)`,
      [id, authorId, Date.now() + 3_600_000],
    );
    return id;
  };
  const latestIds = async (who?: { token: string }): Promise<number[]> => {
    const req = t.http.post('/feed/listLatest');
    if (who) void req.set(...auth(who));
    const res = await req.send(freshLatest()).expect(200);
    return res.body.video_list.map((v: { id: number }) => v.id);
  };

  beforeAll(async () => {
    pair = await startMariadbPair();
    t = await startApp('full', {
      mysqlAdminUrl: pair.primaryUrl,
      mysqlReplicaUrls: [pair.replicaUrl],
      // The id indexes are built from the primary, so listLatest and listByAuthorID would not show
      // the replica-only rows these tests use to see where a read went: off here (SQL queries).
      env: {
        REPLICA_MAX_LAG: String(MAX_LAG),
        LATEST_INDEX_MAX_LENGTH: '0',
        AUTHOR_INDEX_MAX_LENGTH: '0',
        TAG_INDEX_MAX_LENGTH: '0',
      },
    });
    db = t.app.get(Database);
    await waitFor('the replica in use', () => replicaState() === 'up');
    await expectReported('up');
  }, 180_000);

  afterAll(async () => {
    await t?.close();
    await pair?.stop();
  });

  it('feeds, lists and details read the replica; writes, their locks and a writer’s own reads use the primary', async () => {
    const reader = await registerAndLogin(t, 'reader');
    const writer = await registerAndLogin(t, 'writer');
    await pair.caughtUp();
    const video = await markerVideo(writer.id);
    await onReplica(
      'INSERT INTO {db}.comments (video_id, author_id, username, content, create_time) VALUES (?, ?, ?, ?, ?)',
      [video, writer.id, 'replica-only', 'from the replica', Date.now()],
    );
    // Anonymous and not-lately-writing callers: the replica's rows.
    expect(await latestIds()).toContain(video);
    expect(await latestIds(reader)).toContain(video);
    await t.http.post('/video/getDetail').send({ id: video }).expect(200);
    const byAuthor = await t.http.post('/video/listByAuthorID').send({ author_id: writer.id }).expect(200);
    expect(byAuthor.body.map((v: { id: number }) => v.id)).toEqual([video]);
    const comments = await t.http.post('/comment/listAll').send({ video_id: video }).expect(200);
    expect(comments.body.map((c: { content: string }) => c.content)).toEqual(['from the replica']);
    // A write's own reads and locks are the primary's: the video is not there.
    await t.http
      .post('/like/like')
      .set(...auth(writer))
      .send({ video_id: video })
      .expect(404);
    await t.http
      .post('/comment/publish')
      .set(...auth(writer))
      .send({ video_id: video, content: 'x' })
      .expect(404);
    // The writer's requests (even the failed writes) made it a recent writer: its reads use the primary now.
    expect(await latestIds(writer)).not.toContain(video);
    await t.http
      .post('/comment/listAll')
      .set(...auth(writer))
      .send({ video_id: video })
      .expect(404);
    // ...for the sticky window only (max lag + check interval + 1 s).
    await waitFor(
      'the writer back on the replica',
      async () => (await latestIds(writer)).includes(video),
      15_000,
    );
    expect(await latestIds()).toContain(video);
    await onReplica('DELETE FROM {db}.comments WHERE video_id = ?', [video]);
    await onReplica('DELETE FROM {db}.videos WHERE id = ?', [video]);
  });

  it('read-your-writes at once while the replica is behind (delayed 2 s): like, comment, follow, rename; details for everyone', async () => {
    const me = await registerAndLogin(t, 'ryw');
    const other = await registerAndLogin(t, 'rywother');
    const authors = await insertAccounts(t, 1, 'rywauthor');
    const [v] = await insertVideos(t, [
      { author_id: authors[0], create_time: Date.now() - 10, likes_count: 0, popularity: 0 },
    ]);
    const published = await t.http
      .post('/video/publish')
      .set(...auth(me))
      .send({
        title: 'mine',
        play_url: 'https://cdn.example.com/v.mp4',
        cover_url: 'https://cdn.example.com/c.jpg',
      })
      .expect(200);
    const mine = published.body.id as number;
    await pair.caughtUp();
    await setDelay(2);
    try {
      // Wait out the sticky window of the publish: `me` reads the replica again.
      await new Promise((res) => setTimeout(res, db.reads.stickyMs));
      expect(replicaState()).toBe('up');
      // Details cached by anonymous readers (from the replica).
      await t.http.post('/video/getDetail').send({ id: mine }).expect(200);
      expect((await t.http.post('/video/getDetail').send({ id: v.id }).expect(200)).body.likes_count).toBe(0);

      await t.http
        .post('/like/like')
        .set(...auth(me))
        .send({ video_id: v.id })
        .expect(200);
      // The replica has not applied it: the answers below come from the primary.
      expect(await onReplica('SELECT id FROM {db}.likes WHERE account_id = ?', [me.id])).toEqual([]);
      // Everyone's getDetail has the new count at once: the change marked the cached detail
      // "refill from the primary".
      expect((await t.http.post('/video/getDetail').send({ id: v.id }).expect(200)).body.likes_count).toBe(1);
      // The worker's reconciler and `npm run recount` mark through the same function: with
      // replicas a count they fix is marked too, not deleted (a lagging replica's row would be
      // cached); the change stamp is under the key prefix.
      const raw = redisClient();
      try {
        const p = t.testEnv.redisPrefix ?? '';
        const detailKey = p + CacheKeys.videoDetail(v.id);
        expect(JSON.parse((await raw.get(detailKey)) ?? 'null')).toMatchObject({ id: v.id, likes_count: 1 });
        expect(await markDetailsChanged(t.app.get(CacheStore), db, [v.id])).toEqual([]);
        expect(JSON.parse((await raw.get(detailKey)) ?? 'null')).toMatchObject({ refill: 'primary' });
        expect(await raw.exists(`${p}{${detailKey}}:chg`)).toBe(1);
      } finally {
        raw.disconnect();
      }
      expect((await t.http.post('/video/getDetail').send({ id: v.id }).expect(200)).body.likes_count).toBe(1);
      expect(
        (
          await t.http
            .post('/like/isLiked')
            .set(...auth(me))
            .send({ video_id: v.id })
            .expect(200)
        ).body,
      ).toEqual({
        is_liked: true,
      });
      const feed = await t.http
        .post('/feed/listLatest')
        .set(...auth(me))
        .send(freshLatest())
        .expect(200);
      expect(feed.body.video_list.find((x: { id: number }) => x.id === v.id)?.is_liked).toBe(true);
      const liked = await t.http
        .post('/like/listMyLikedVideos')
        .set(...auth(me))
        .send({})
        .expect(200);
      expect(liked.body.map((x: { id: number }) => x.id)).toEqual([v.id]);
      // Another api process knows the writer from Redis (`ryw:<id>`, living the sticky window):
      // forget this process's own record and read again.
      const r = redisClient();
      try {
        const ttl = await r.pttl(`${t.testEnv.redisPrefix}ryw:${me.id}`);
        expect(ttl).toBeGreaterThan(0);
        expect(ttl).toBeLessThanOrEqual(db.reads.stickyMs);
      } finally {
        r.disconnect();
      }
      (db.reads as unknown as { recent: Map<number, number> }).recent.clear();
      const elsewhere = await t.http
        .post('/like/isLiked')
        .set(...auth(me))
        .send({ video_id: v.id })
        .expect(200);
      expect(elsewhere.body).toEqual({ is_liked: true });

      const c = await t.http
        .post('/comment/publish')
        .set(...auth(me))
        .send({ video_id: v.id, content: 'mine' })
        .expect(200);
      const list = await t.http
        .post('/comment/listAll')
        .set(...auth(me))
        .send({ video_id: v.id })
        .expect(200);
      expect(list.body.map((x: { id: number }) => x.id)).toContain(c.body.id);

      await t.http
        .post('/social/follow')
        .set(...auth(me))
        .send({ vlogger_id: authors[0] })
        .expect(200);
      const counts = await t.http
        .post('/social/getCounts')
        .set(...auth(me))
        .send({})
        .expect(200);
      expect(counts.body.vlogger_count).toBe(1);
      const vloggers = await t.http
        .post('/social/getAllVloggers')
        .set(...auth(me))
        .send({})
        .expect(200);
      expect(vloggers.body.vloggers.map((a: { id: number }) => a.id)).toEqual([authors[0]]);
      const following = await t.http
        .post('/feed/listByFollowing')
        .set(...auth(me))
        .send({ limit: 5 })
        .expect(200);
      expect(following.body.video_list.map((x: { id: number }) => x.id)).toEqual([v.id]);

      const newName = `renamed${Date.now().toString(36)}`;
      const renamed = await t.http
        .post('/account/rename')
        .set(...auth(me))
        .send({ new_username: newName })
        .expect(200);
      const self = { token: renamed.body.token as string };
      const [stale] = (await onReplica('SELECT username FROM {db}.accounts WHERE id = ?', [me.id])) as {
        username: string;
      }[];
      expect(stale.username).not.toBe(newName);
      const byId = await t.http
        .post('/account/findByID')
        .set(...auth(self))
        .send({ id: me.id })
        .expect(200);
      expect(byId.body.username).toBe(newName);
      const byName = await t.http
        .post('/account/findByUsername')
        .set(...auth(self))
        .send({ username: newName })
        .expect(200);
      expect(byName.body.id).toBe(me.id);
      const profile = await t.http
        .post('/account/getProfile')
        .set(...auth(self))
        .send({ account_id: me.id })
        .expect(200);
      expect(profile.body.account.username).toBe(newName);

      // Someone else, reading the delayed replica, sees the writes once it has applied them.
      await waitFor('the replica to apply the writes', async () => {
        const r = await t.http
          .post('/account/findByID')
          .set(...auth(other))
          .send({ id: me.id });
        return r.status === 200 && r.body.username === newName;
      });
      const theirs = await t.http
        .post('/social/getCounts')
        .set(...auth(other))
        .send({ account_id: me.id })
        .expect(200);
      expect(theirs.body.vlogger_count).toBe(1);

      // getDetail is current for everyone at once, here a delete the replica has not applied.
      await t.http
        .post('/video/delete')
        .set(...auth(self))
        .send({ id: mine })
        .expect(200);
      expect(await onReplica('SELECT id FROM {db}.videos WHERE id = ?', [mine])).toHaveLength(1);
      await t.http.post('/video/getDetail').send({ id: mine }).expect(404);
      await t.http
        .post('/video/getDetail')
        .set(...auth(other))
        .send({ id: mine })
        .expect(404);
    } finally {
      await setDelay(0);
      await pair.caughtUp();
    }
  });

  it('feed walks read the replica and never skip or repeat (latest, likes count, following)', async () => {
    const viewer = await registerAndLogin(t, 'walker');
    const authors = await insertAccounts(t, 4, 'walkauthor');
    const base = Date.now() - 100_000;
    const videos = await insertVideos(
      t,
      Array.from({ length: 90 }, (_, i) => ({
        author_id: authors[i % 4],
        create_time: base - Math.floor(i / 3) * 7, // ties of three per millisecond
        likes_count: i % 5,
        popularity: i % 5,
      })),
    );
    await follow(t, viewer.id, authors.slice(0, 2));
    await pair.caughtUp();
    await new Promise((res) => setTimeout(res, db.reads.stickyMs)); // the registration's sticky window
    const mine = new Set(videos.map((v) => v.id));
    const post = (route: string, who?: { token: string }) => async (body: Record<string, unknown>) => {
      const req = t.http.post(route);
      if (who) void req.set(...auth(who));
      return req.send(body);
    };
    for (const limit of [1, 7, 13]) {
      const latest = await walk(post('/feed/listLatest'), { limit }, (p) => ({
        latest_time: p.next_time,
        id_before: p.next_id_before,
      }));
      expect(latest.ids.filter((id) => mine.has(id))).toEqual([...videos].sort(byTimeDesc).map((v) => v.id));
      const likes = await walk(post('/feed/listLikesCount'), { limit }, (p) => ({
        likes_count_before: p.next_likes_count_before,
        id_before: p.next_id_before,
      }));
      expect(likes.ids.filter((id) => mine.has(id))).toEqual([...videos].sort(byLikesDesc).map((v) => v.id));
      const fol = await walk(post('/feed/listByFollowing', viewer), { limit }, (p) => ({
        latest_time: p.next_time,
        id_before: p.next_id_before,
      }));
      expect(fol.ids).toEqual(
        [...videos]
          .filter((v) => v.author_id === authors[0] || v.author_id === authors[1])
          .sort(byTimeDesc)
          .map((v) => v.id),
      );
    }
    // It was the replica that answered: a replica-only row shows in the walk.
    const extra = await markerVideo(authors[0]);
    expect((await latestIds())[0]).toBe(extra);
    await onReplica('DELETE FROM {db}.videos WHERE id = ?', [extra]);
  });

  it('a replica whose SQL thread stops, or that lags past REPLICA_MAX_LAG, is skipped; used again once current', async () => {
    const someone = await insertAccounts(t, 1, 'lagauthor');
    await pair.caughtUp();
    const video = await markerVideo(someone[0]);
    await waitFor('replica in use', () => replicaState() === 'up');
    expect(await latestIds()).toContain(video);

    // Replication stopped: Seconds_Behind_Master is NULL, the lag unknown → skipped.
    await pair.sql('replica', 'STOP SLAVE SQL_THREAD');
    await waitFor('the stopped replica skipped', () => replicaState() === 'lagging');
    await expectReported('lagging');
    expect(await latestIds()).not.toContain(video);
    await pair.sql('replica', 'START SLAVE SQL_THREAD');
    await waitFor('the replica back', () => replicaState() === 'up');
    expect(await latestIds()).toContain(video);

    // Lagging past the max: replication delayed 2 × MAX_LAG; a write on the primary is seen by
    // anonymous readers before the replica applies it, because the replica is skipped meanwhile.
    await setDelay(2 * MAX_LAG);
    try {
      // A check made while the slave was stopped for the change reads "lagging" with an unknown
      // lag: wait for a check of the running replica before the write, then for a measured lag.
      await waitFor('the delayed replica in use', () => replicaState() === 'up');
      const [v] = await insertVideos(t, [
        { author_id: someone[0], create_time: Date.now() + 7_200_000, likes_count: 0, popularity: 0 },
      ]);
      const written = Date.now();
      await waitFor(
        'the lagging replica skipped',
        () => replicaState() === 'lagging' && (db.replicaStatus()[0].lagSeconds ?? 0) > MAX_LAG,
        4 * MAX_LAG * 1000,
      );
      expect(Date.now() - written).toBeGreaterThanOrEqual(MAX_LAG * 1000);
      const seen = await latestIds();
      expect(seen[0]).toBe(v.id); // from the primary: the replica does not have it yet
      expect(seen).not.toContain(video);
      expect(db.replicaStatus()[0].lagSeconds).toBeGreaterThan(MAX_LAG);
      await waitFor('the replica current again', () => replicaState() === 'up', 4 * MAX_LAG * 1000);
      const after = await latestIds();
      expect(after[0]).toBe(v.id);
      expect(after).toContain(video);
    } finally {
      await setDelay(0);
      await pair.caughtUp();
      await onReplica('DELETE FROM {db}.videos WHERE id = ?', [video]);
    }
  }, 60_000);

  it('the replica killed mid-run: every read still answers (from the primary); it is used again once restarted', async () => {
    const authors = await insertAccounts(t, 2, 'killauthor');
    const videos = await insertVideos(
      t,
      Array.from({ length: 12 }, (_, i) => ({
        author_id: authors[i % 2],
        create_time: Date.now() - i,
        likes_count: i,
        popularity: i,
      })),
    );
    const viewer = await registerAndLogin(t, 'killviewer');
    await pair.caughtUp();
    const video = await markerVideo(authors[0]);
    await waitFor(
      'replica in use',
      async () => replicaState() === 'up' && (await latestIds()).includes(video),
    );

    const statuses = new Map<string, number>();
    let k = 0;
    const reads = async (): Promise<void> => {
      const v = videos[k++ % videos.length];
      const all = await Promise.all([
        t.http.post('/feed/listLatest').send(freshLatest()),
        t.http.post('/feed/listLikesCount').send({ limit: 1 + (k % 50) }),
        t.http.post('/video/getDetail').send({ id: v.id }),
        t.http.post('/video/listByAuthorID').send({ author_id: v.author_id }),
        t.http.post('/comment/listAll').send({ video_id: v.id }),
        t.http.post('/account/findByID').send({ id: v.author_id }),
        t.http
          .post('/like/isLiked')
          .set(...auth(viewer))
          .send({ video_id: v.id }),
        t.http
          .post('/social/getAllFollowers')
          .set(...auth(viewer))
          .send({ vlogger_id: v.author_id }),
      ]);
      for (const r of all) statuses.set(String(r.status), (statuses.get(String(r.status)) ?? 0) + 1);
    };
    for (let i = 0; i < 5; i++) await reads();
    await pair.killReplica();
    const killed = Date.now();
    while (Date.now() - killed < 3000) await reads();
    expect(replicaState()).toBe('down');
    await expectReported('down');
    expect(await latestIds()).not.toContain(video);
    await pair.startReplica();
    await waitFor('the restarted replica in use', () => replicaState() === 'up');
    for (let i = 0; i < 5; i++) await reads();
    expect(await latestIds()).toContain(video);
    expect(Object.fromEntries(statuses)).toEqual({ '200': expect.any(Number) });
    await onReplica('DELETE FROM {db}.videos WHERE id = ?', [video]);
  }, 120_000);
});
