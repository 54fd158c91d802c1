import { startApp, startSibling, TestApp } from '../helpers/test-app';
import { PROFILES } from '../helpers/test-env';
import { TcpProxy } from '../helpers/tcp-proxy';
import { registerAndLogin } from './feed-fixtures';

/**
 * `video:detail:id=<id>` (SPEC §5, §7.5): a delete of the key that Redis refused (a cut) is not
 * forgotten. The api that wrote reads that video from the primary until its retry lands, and once
 * Redis answers again the retry removes the stale entry for every api: a deleted video is not
 * served from the cache for the rest of its 5-minute TTL. Redis only (the embedded cache is in
 * process and never refuses).
 */
if (PROFILES.includes('full')) {
  describe('detail cache: a refused delete is retried (full)', () => {
    let a: TestApp; // writes through a proxy to Redis that can be cut
    let b: TestApp; // another api on the same database and Redis, direct
    let proxy: TcpProxy;

    beforeAll(async () => {
      proxy = new TcpProxy('127.0.0.1', 6379);
      const port = await proxy.start();
      a = await startApp('full', { redisUrl: `redis://127.0.0.1:${port}` });
      b = await startSibling(a, { REDIS_URL: 'redis://127.0.0.1:6379' });
    });
    afterAll(async () => {
      await b?.close();
      await a?.close();
      await proxy?.stop();
    });

    const detail = (t: TestApp, id: number) => t.http.post('/video/getDetail').send({ id });

    it('a video deleted while Redis was cut is gone from getDetail on the writer at once, and on every api once Redis is back', async () => {
      const author = await registerAndLogin(a, 'cutdel');
      const published = await a.http
        .post('/video/publish')
        .set('authorization', `Bearer ${author.token}`)
        .send({
          title: 'doomed',
          play_url: 'https://example.com/v.mp4',
          cover_url: 'https://example.com/c.jpg',
        })
        .expect(200);
      const id = published.body.id as number;
      // Cached by the direct api (the entry every api reads).
      expect((await detail(b, id).expect(200)).body.title).toBe('doomed');
      expect((await detail(b, id).expect(200)).body.id).toBe(id);

      proxy.cut();
      try {
        await a.http
          .post('/video/delete')
          .set('authorization', `Bearer ${author.token}`)
          .send({ id })
          .expect(200); // committed; the key's delete cannot reach Redis
        // The writer reads this video from the primary while its delete is pending.
        expect((await detail(a, id)).status).toBe(404);
      } finally {
        proxy.restore();
      }
      // Once Redis answers again the pending delete lands: the other api no longer serves the entry.
      const deadline = Date.now() + 15_000;
      for (;;) {
        const statuses = [(await detail(a, id)).status, (await detail(b, id)).status];
        if (statuses.every((s) => s === 404)) break;
        if (Date.now() > deadline)
          throw new Error(`getDetail still ${JSON.stringify(statuses)} after Redis came back`);
        await new Promise((r) => setTimeout(r, 100));
      }
    });
  });
}
