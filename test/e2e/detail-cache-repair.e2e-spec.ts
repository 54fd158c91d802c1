import { startApp, startSibling, TestApp } from '../helpers/test-app';
import { PROFILES } from '../helpers/test-env';
import { TcpProxy } from '../helpers/tcp-proxy';
import { createAccounts } from '../factories/accounts';
import { publishVideo } from '../factories/videos';
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

  describe('detail cache: values cached before an outage are not read back before its repairs (full)', () => {
    let w: TestApp; // writes, through its own proxy to Redis
    let r: TestApp; // reads, through another (its connection comes back first)
    let wProxy: TcpProxy;
    let rProxy: TcpProxy;

    beforeAll(async () => {
      wProxy = new TcpProxy('127.0.0.1', 6379);
      rProxy = new TcpProxy('127.0.0.1', 6379);
      w = await startApp('full', { redisUrl: `redis://127.0.0.1:${await wProxy.start()}` });
      r = await startSibling(w, { REDIS_URL: `redis://127.0.0.1:${await rProxy.start()}` });
    });
    afterAll(async () => {
      await r?.close();
      await w?.close();
      await rProxy?.stop();
      await wProxy?.stop();
    });

    it("a rename made while Redis was cut shows on the other api once Redis is back, before the writer's repair has landed", async () => {
      const [author] = await createAccounts(w, 1, 'settle');
      const { id } = await publishVideo(w, author, { title: 'named' });
      const name = async (): Promise<string> => {
        const res = await r.http.post('/video/getDetail').send({ id }).expect(200);
        return res.body.username as string;
      };
      const before = await name(); // cached, the entry every api reads
      expect(await name()).toBe(before);

      const renamed = `settle${Date.now().toString(36)}`;
      wProxy.cut();
      rProxy.cut();
      const seen = new Set<string>();
      try {
        await w.http
          .post('/account/rename')
          .set('authorization', `Bearer ${author.token}`)
          .send({ new_username: renamed })
          .expect(200); // committed; the entry's drop cannot reach Redis
        // The reader finds Redis gone too (its breaker opens) and reads the database.
        for (let i = 0; i < 4; i++) expect(await name()).toBe(renamed);
        await new Promise((res) => setTimeout(res, 1200)); // its breaker half-open: the next read probes
        // Redis is back for the reader first; the writer's connection (and its repair) 0.5 s later.
        rProxy.restore();
        const writerBack = setTimeout(() => wProxy.restore(), 500);
        const until = Date.now() + 3500;
        while (Date.now() < until) {
          seen.add(await name());
          await new Promise((res) => setTimeout(res, 25));
        }
        clearTimeout(writerBack);
      } finally {
        rProxy.restore();
        wProxy.restore();
      }
      // Never the name from before the outage: the reader reads no cached value until repairs could land.
      expect([...seen]).toEqual([renamed]);
    });
  });
}
