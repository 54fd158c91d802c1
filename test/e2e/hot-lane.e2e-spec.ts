import { CacheKeys, minuteBucket } from '@app/cache';
import { CONSUMER_QUEUES, ConsumerMetrics } from '@app/events';
import { createAccounts } from '../factories/accounts';
import { publishComment, publishVideo } from '../factories/videos';
import { startApp, type TestApp } from '../helpers/test-app';
import { PROFILES, redisClient } from '../helpers/test-env';
import { TcpProxy } from '../helpers/tcp-proxy';
import { waitFor } from '../helpers/wait';
import { startWorker, type TestWorker } from '../helpers/worker';

jest.setTimeout(90_000);

/**
 * `video.popularity.update` reaches the worker through two queues: `popularity.worker` applies the
 * `videos.popularity` column (and records the event), `hot.worker` adds it to the hot buckets in
 * Redis with no transaction. With Redis refused, the hot lane's events wait in its retry queues
 * while the column keeps up with likes + comments (it is what listByPopularity reads without
 * Redis); once Redis is back, the buckets catch up, each event counted once.
 */
if (PROFILES.includes('full')) {
  describe('popularity and the hot buckets in two worker lanes (full, broker)', () => {
    let t: TestApp;
    let worker: TestWorker;
    let proxy: TcpProxy;
    const redis = redisClient();

    beforeAll(async () => {
      proxy = new TcpProxy('127.0.0.1', 6379);
      const port = await proxy.start();
      t = await startApp('full', { amqp: true, redisUrl: `redis://127.0.0.1:${port}` });
      worker = await startWorker(t.testEnv, { migrate: false });
    });
    afterAll(async () => {
      proxy?.restore();
      redis.disconnect();
      await worker?.close().catch(() => undefined);
      await t?.close();
      await proxy?.stop();
    });

    it('with Redis refused the column keeps up while the buckets wait; once it is back they catch up, each event once', async () => {
      const started = Date.now();
      const [author, ...likers] = await createAccounts(t, 7, 'hotln');
      const video = await publishVideo(t, author);
      const row = async (): Promise<{ p: number; l: number; c: number }> => {
        const r = await t.sql<{ p: number; l: number; c: number }>(
          'SELECT popularity AS p, likes_count AS l, comments_count AS c FROM videos WHERE id = ?',
          [video.id],
        );
        return { p: Number(r[0].p), l: Number(r[0].l), c: Number(r[0].c) };
      };
      const like = (token: string): Promise<unknown> =>
        t.http
          .post('/like/like')
          .set('authorization', `Bearer ${token}`)
          .send({ video_id: video.id })
          .expect(200);
      await like(likers[0].token);
      expect(await waitFor(row, (r) => r.p === 1 && r.l === 1, 10_000)).toEqual({ p: 1, l: 1, c: 0 });

      const metrics = worker.app.get(ConsumerMetrics);
      const waited = (queue: string): number => metrics.count(queue, 'waited');
      const popularityWaitedBefore = waited(CONSUMER_QUEUES.popularity.name);
      proxy.cut();
      try {
        for (const liker of likers.slice(1)) await like(liker.token);
        await publishComment(t, likers[1], video.id, 'while Redis is away');
        await publishComment(t, likers[2], video.id, 'and another');
        // The column reaches likes + comments while Redis is still away...
        expect(await waitFor(row, (r) => r.p === 8, 10_000)).toEqual({ p: 8, l: 6, c: 2 });
        // ...because the column's lane hands the buckets over to the hot lane, which alone waits on Redis.
        expect(waited(CONSUMER_QUEUES.popularity.name)).toBe(popularityWaitedBefore);
        expect(metrics.count(CONSUMER_QUEUES.popularity.name, 'handed_off')).toBeGreaterThan(0);
        expect(
          await waitFor(
            async () => waited(CONSUMER_QUEUES.hot.name),
            (n) => n > 0,
            10_000,
          ),
        ).toBeGreaterThan(0);
      } finally {
        proxy.restore();
      }

      // Back: the buckets of the minutes since the start hold the video's 8, counted once each.
      const minutes: string[] = [];
      for (let ms = started - 60_000; ms <= Date.now() + 60_000; ms += 60_000) minutes.push(minuteBucket(ms));
      const prefix = t.testEnv.redisPrefix ?? '';
      const inBuckets = async (): Promise<number> => {
        let sum = 0;
        for (const m of minutes)
          sum += Number((await redis.zscore(prefix + CacheKeys.hotBucket(m), String(video.id))) ?? 0);
        return sum;
      };
      expect(await waitFor(inBuckets, (n) => n === 8, 45_000)).toBe(8);
      expect(await row()).toEqual({ p: 8, l: 6, c: 2 });
    });
  });
}
