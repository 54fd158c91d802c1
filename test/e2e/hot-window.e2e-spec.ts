import { CacheKeys, CacheStore, HOT_ID_SPACE, minuteBucket } from '@app/cache';
import type { PopularityEventPayload } from '@app/events';
import { HotListService } from '@app/feed';
import { HotBuckets } from '@app/video';
import { startApp, TestApp } from '../helpers/test-app';
import { PROFILES, redisClient } from '../helpers/test-env';
import { insertAccounts, insertVideos, FixtureVideo } from './feed-fixtures';

jest.setTimeout(120_000);

const MINUTE = 60_000;

/**
 * The hot list's running window (libs/cache/src/hot-window.ts): the current minute's snapshot is a
 * copy of one sorted set kept by the bucket increments and rolled forward by subtracting the
 * buckets that leave the window. Over 100 simulated minutes of likes and unlikes (late events,
 * redeliveries, sums that go negative), every current-minute list equals the union of its 60
 * buckets computed here, whether the window was rolled by one minute, by many, rebuilt after a
 * long idle or a loss, or left alone for a caller whose clock is a minute behind.
 */
if (PROFILES.includes('full')) {
  describe('the hot list from its running window (full)', () => {
    let t: TestApp;
    let hot: HotListService;
    let store: CacheStore;
    let videos: FixtureVideo[];
    const redis = redisClient();
    const key = (k: string): string => (t.testEnv.redisPrefix ?? '') + k;
    /** Applied events: minute (unix s) → video id → summed delta. */
    const sums = new Map<number, Map<number, number>>();
    const sent: PopularityEventPayload[] = [];
    let seed = 12345;
    const rand = (n: number): number => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return seed % n;
    };
    let nextEvent = 0;
    const goneId = 99_999_999; // not a video: in the snapshot, skipped by the pages

    beforeAll(async () => {
      t = await startApp('full');
      hot = t.app.get(HotListService);
      store = t.app.get(CacheStore);
      const [author] = await insertAccounts(t, 1, 'hotwin');
      videos = await insertVideos(
        t,
        Array.from({ length: 40 }, (_, i) => ({
          author_id: author,
          create_time: Date.now() - i,
          likes_count: 0,
          popularity: 0,
        })),
      );
    });
    afterAll(async () => {
      redis.disconnect();
      await t?.close();
    });

    /** Events as the popularity handler adds them after commit; each one also counted here. */
    const apply = async (events: PopularityEventPayload[]): Promise<void> => {
      const b = new HotBuckets(store);
      b.events.push(...events);
      await b.run();
    };
    const add = async (minutes: number[], unlike?: number): Promise<void> => {
      const events = minutes.map((m): PopularityEventPayload => {
        const id = unlike ?? (rand(12) === 0 ? goneId : videos[rand(videos.length)].id);
        return {
          event_id: `hotwin-${process.pid}-${nextEvent++}`,
          video_id: id,
          delta: unlike !== undefined || rand(10) >= 7 ? -1 : 1,
          reason: 'like',
          ts: m * 1000 + rand(MINUTE),
        };
      });
      // A redelivery of an earlier event counts once (its dedupe key).
      const again = sent.length > 0 ? [sent[rand(sent.length)]] : [];
      await apply([...events, ...again]);
      for (const e of events) {
        const m = Math.floor(e.ts / MINUTE) * 60;
        const byId = sums.get(m) ?? new Map<number, number>();
        byId.set(e.video_id, (byId.get(e.video_id) ?? 0) + e.delta);
        sums.set(m, byId);
      }
      sent.push(...events);
    };
    /** The list of the minute `n` (unix s): sums of its 60 buckets of at least 1, by sum desc, id desc. */
    const expected = (n: number): number[] => {
      const total = new Map<number, number>();
      for (let m = n - 59 * 60; m <= n; m += 60)
        for (const [id, d] of sums.get(m) ?? []) total.set(id, (total.get(id) ?? 0) + d);
      return [...total.entries()]
        .filter(([id, s]) => s >= 1 && id !== goneId)
        .sort((a, b) => b[1] - a[1] || b[0] - a[0])
        .map(([id]) => id);
    };
    /** Every page of the minute `n`'s list read at `now`, the first one as a request without as_of. */
    const list = async (now: number): Promise<number[]> => {
      const ids: number[] = [];
      let page = await hot.list({ limit: 7, asOf: 0, offset: 0 }, now);
      ids.push(...page.video_list.map((v) => v.id));
      while (page.has_more) {
        page = await hot.list({ limit: 7, asOf: page.as_of, offset: page.next_offset }, now);
        ids.push(...page.video_list.map((v) => v.id));
      }
      return ids;
    };
    /** A member no bucket holds, put in the window: it stays through rolls, a rebuild drops it. */
    const probe = 4_000_000_000;
    const mark = async (): Promise<void> => {
      await redis.zadd(key(CacheKeys.hotWindow), HOT_ID_SPACE + probe, String(probe));
    };
    const marked = async (): Promise<boolean> =>
      (await redis.zscore(key(CacheKeys.hotWindow), String(probe))) !== null;
    /** The window's low minute (its state is `<low>:<version seen>`). */
    const low = async (): Promise<number> =>
      Number((await redis.get(key(CacheKeys.hotWindowState)))?.split(':')[0] ?? NaN);

    it('every current-minute list equals the union of its 60 buckets: rolled by one minute or many, rebuilt, or behind', async () => {
      const real = Math.floor(Date.now() / MINUTE) * 60; // unix s of the real current minute
      const start = real - 100 * 60; // buckets of older minutes would be past their 2 h
      const oldest = real - 115 * 60; // events older than 2 h are dropped before the buckets
      const checks = new Set([0, 1, 2, 3, 4, 5, 7, 8, 12, 20, 27, 85, 86, 90, 93, 100]);
      let lastCheck = -1;
      let bypassed = false;
      for (let k = 0; k <= 100; k++) {
        const n = start + k * 60;
        // This minute's events, and late ones for earlier minutes, some already out of the window.
        const minutes = Array.from({ length: 6 }, (_, i) =>
          i < 3 ? n : Math.max(oldest, n - rand(71) * 60),
        );
        await add(minutes);
        if (!checks.has(k)) continue;
        const rolled = lastCheck >= 0 && k - lastCheck <= 50 && !bypassed && (await marked());
        bypassed = false;
        expect(await list(n * 1000 + 30_000)).toEqual(expected(n));
        expect(await low()).toBe(n - 59 * 60);
        if (lastCheck >= 0) expect(await marked()).toBe(rolled); // kept through a roll, gone after a rebuild
        // Activity later in the same minute shows on the next first page (past the 1 s refresh).
        await add([n, n, n - 60]);
        expect(await list(n * 1000 + 45_000)).toEqual(expected(n));
        await mark();
        if (k === 8) {
          // A caller a minute behind: its snapshot from the buckets, the window left as it is.
          expect(await list(n * 1000 - 5_000)).toEqual(expected(n - 60));
          expect(await low()).toBe(n - 59 * 60);
          expect(await marked()).toBe(true);
        }
        if (k === 20) await redis.unlink(key(CacheKeys.hotWindow)); // lost (evicted): the next build rebuilds it
        if (k === 90) {
          // A writer that does not know the window (an older build in a rolling deploy): bucket and
          // version only. The window missed it, so the next build makes it again from the buckets.
          await redis.zincrby(key(CacheKeys.hotBucket(minuteBucket(n * 1000))), 5, String(videos[1].id));
          await redis.incr(key(CacheKeys.hotVersion));
          sums.get(n)?.set(videos[1].id, (sums.get(n)?.get(videos[1].id) ?? 0) + 5);
          bypassed = true;
        }
        lastCheck = k;
      }
      /** What the window should hold: every sum but 0 from its low minute on, and the sentinel. */
      const want = async (): Promise<Map<number, number>> => {
        const from = await low();
        const all = new Map<number, number>([[0, 0]]);
        for (const [m, byId] of sums)
          if (m >= from) for (const [id, d] of byId) all.set(id, (all.get(id) ?? 0) + d);
        for (const [id, sum] of all) if (sum === 0 && id !== 0) all.delete(id);
        return new Map([...all].sort((a, b) => a[0] - b[0]));
      };
      // Unlikes of a video past its likes in the window: its sum goes below 0, off the list.
      const [victim, sum] = [...(await want())].filter(([id]) => id !== 0).sort((a, b) => a[1] - b[1])[0];
      await add(
        Array.from({ length: Math.max(0, sum) + 1 }, () => real),
        victim,
      );
      expect(await list(real * 1000 + 50_000)).toEqual(expected(real));
      // The window itself: negative sums kept (a later like brings them back to the right sum).
      const window = await redis.zrange(key(CacheKeys.hotWindow), 0, -1, 'WITHSCORES');
      const got = new Map<number, number>();
      for (let i = 0; i < window.length; i += 2) {
        const id = Number(window[i]);
        if (id !== probe) got.set(id, (Number(window[i + 1]) - id) / HOT_ID_SPACE);
      }
      const wanted = await want();
      expect(new Map([...got].sort((a, b) => a[0] - b[0]))).toEqual(wanted);
      expect(wanted.get(victim)).toBeLessThan(0);
    });

    it('a script that fails part way on the window drops it (Redis keeps what ran before the failure), and the next build makes it from the buckets', async () => {
      const real = Math.floor(Date.now() / MINUTE) * 60;
      await add([real, real]);
      expect(await list(real * 1000 + 55_000)).toEqual(expected(real));
      const state = await redis.get(key(CacheKeys.hotWindowState));
      expect(state).not.toBeNull();
      // The window is not a sorted set any more: an increment fails on it after its bucket moved.
      await redis.set(key(CacheKeys.hotWindow), 'not a sorted set');
      const event: PopularityEventPayload = {
        event_id: `hotwin-${process.pid}-${nextEvent++}`,
        video_id: videos[2].id,
        delta: 1,
        reason: 'like',
        ts: real * 1000 + 1000,
      };
      await expect(apply([event])).rejects.toThrow(/hot buckets not updated/);
      expect(await redis.exists(key(CacheKeys.hotWindow), key(CacheKeys.hotWindowState))).toBe(0);
      // Retried (as the handler's retry queue does): counted once, by the bucket that already has it.
      await apply([event]);
      sums.get(real)?.set(videos[2].id, (sums.get(real)?.get(videos[2].id) ?? 0) + 1);
      expect(await list(real * 1000 + 57_000)).toEqual(expected(real));
      expect(await redis.exists(key(CacheKeys.hotWindow))).toBe(1);

      // The same in a build: the roll fails on the window, which goes with its snapshot; the build
      // after makes it again, and the list is the union again.
      await add([real]); // the version moves: the next first page builds
      await redis.set(key(CacheKeys.hotWindow), 'not a sorted set');
      const version = await redis.get(key(CacheKeys.hotVersion));
      await redis.set(key(CacheKeys.hotWindowState), `${real - 59 * 60}:${version}`);
      await list(real * 1000 + 58_100); // answered from the database: the build failed
      expect(await redis.exists(key(CacheKeys.hotWindow), key(CacheKeys.hotWindowState))).toBe(0);
      expect(await list(real * 1000 + 59_200)).toEqual(expected(real));
    });
  });
}

/**
 * `HOT_LIST_MAX_LENGTH`: a snapshot keeps the highest scores only, whether copied from the running
 * window (the current minute) or made from the buckets (a past minute).
 */
if (PROFILES.includes('full')) {
  describe('the hot list bounded by HOT_LIST_MAX_LENGTH (full)', () => {
    let t: TestApp;
    let hot: HotListService;
    let store: CacheStore;
    const MAX = 5;

    beforeAll(async () => {
      t = await startApp('full', { env: { HOT_LIST_MAX_LENGTH: String(MAX) } });
      hot = t.app.get(HotListService);
      store = t.app.get(CacheStore);
    });
    afterAll(async () => {
      await t?.close();
    });

    it('a snapshot holds the highest HOT_LIST_MAX_LENGTH videos, from the window and from the buckets', async () => {
      const [author] = await insertAccounts(t, 1, 'hotmax');
      const videos = await insertVideos(
        t,
        Array.from({ length: 12 }, (_, i) => ({
          author_id: author,
          create_time: Date.now() - i,
          likes_count: 0,
          popularity: 0,
        })),
      );
      const real = Math.floor(Date.now() / MINUTE) * 60;
      const past = real - 10 * 60;
      // Video i gets 1 + i % 4 likes (ties broken by id) in the past minute and as many now.
      const events: PopularityEventPayload[] = [];
      videos.forEach((v, i) => {
        for (let k = 0; k < 1 + (i % 4); k++)
          for (const m of [past, real])
            events.push({
              event_id: `hotmax-${process.pid}-${v.id}-${k}-${m}`,
              video_id: v.id,
              delta: 1,
              reason: 'like',
              ts: m * 1000 + 500,
            });
      });
      const buckets = new HotBuckets(store);
      buckets.events.push(...events);
      await buckets.run();
      const ranked = videos
        .map((v, i) => ({ id: v.id, score: 1 + (i % 4) }))
        .sort((a, b) => b.score - a.score || b.id - a.id)
        .map((v) => v.id);
      const walk = async (asOf: number, now: number): Promise<number[]> => {
        const ids: number[] = [];
        let page = await hot.list({ limit: 2, asOf, offset: 0 }, now);
        ids.push(...page.video_list.map((v) => v.id));
        while (page.has_more) {
          page = await hot.list({ limit: 2, asOf: page.as_of, offset: page.next_offset }, now);
          ids.push(...page.video_list.map((v) => v.id));
        }
        return ids;
      };
      // The current minute (a build from the window) and the past one (from its buckets): the
      // window holds all 12, each snapshot the highest 5.
      expect(await walk(0, real * 1000 + 59_000)).toEqual(ranked.slice(0, MAX));
      const r = redisClient();
      try {
        const prefix = t.testEnv.redisPrefix ?? '';
        expect(await r.zcard(prefix + CacheKeys.hotWindow)).toBe(videos.length + 1);
      } finally {
        r.disconnect();
      }
      expect(await walk(past, real * 1000 + 59_000)).toEqual(ranked.slice(0, MAX));
    });
  });
}
