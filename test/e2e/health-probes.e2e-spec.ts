import { createAccounts } from '../factories/accounts';
import { publishVideo } from '../factories/videos';
import { WorkerHttp } from '../../apps/worker/src/worker-http.service';
import { startApp, TestApp } from '../helpers/test-app';
import { startWorker } from '../helpers/worker';
import { TcpProxy } from '../helpers/tcp-proxy';
import { AMQP_BASE, PROFILES } from '../helpers/test-env';

/**
 * `/healthz` (SPEC §1) tells each dependency's state as it is now, also on an api that serves no
 * other traffic: Redis is asked (a PING), and a publisher paused by a confirm that timed out asks
 * the broker, instead of repeating what the last request saw.
 */
if (PROFILES.includes('full')) {
  describe('/healthz asks Redis and the broker (full)', () => {
    const amqpUrl = new URL(AMQP_BASE);
    const redisProxy = new TcpProxy('127.0.0.1', 6379);
    const amqpProxy = new TcpProxy(amqpUrl.hostname, Number(amqpUrl.port || 5672));
    let t: TestApp;
    /**
     * A probe's answer, bounded by its own wait (Redis's 250 ms timeout, the broker's 500 ms round
     * trip, the worker's 500 ms queue read), with headroom for a loaded host: one that waited for
     * the silent peer would never answer.
     */
    const BOUND_MS = 3000;

    beforeAll(async () => {
      await redisProxy.start();
      await amqpProxy.start();
      t = await startApp('full', {
        amqp: true,
        redisUrl: `redis://127.0.0.1:${redisProxy.port}`,
        amqpBase: `amqp://${amqpUrl.username}:${amqpUrl.password}@127.0.0.1:${amqpProxy.port}`,
      });
    });
    afterAll(async () => {
      await t?.close();
      await redisProxy.stop();
      await amqpProxy.stop();
    });

    const health = async (): Promise<{ redis: string; rabbitmq: string; ms: number }> => {
      const started = Date.now();
      const res = await t.http.get('/healthz').expect(200);
      return {
        redis: res.body.redis as string,
        rabbitmq: res.body.rabbitmq as string,
        ms: Date.now() - started,
      };
    };

    it('a silent Redis is down at once, with no request in between, and up again when it answers', async () => {
      expect(await health()).toMatchObject({ redis: 'up', rabbitmq: 'up' });
      redisProxy.partition();
      try {
        const h = await health();
        expect(h.redis).toBe('down');
        expect(h.ms).toBeLessThan(BOUND_MS);
      } finally {
        redisProxy.heal();
      }
      expect((await health()).redis).toBe('up');
    });

    it('a silent broker is down at once on an idle api and worker, each answering within its bound, and up again when it answers', async () => {
      const worker = await startWorker(t.testEnv, { migrate: false, env: { RECONCILE_EVERY: 'off' } });
      const workerHealth = async (): Promise<{ rabbitmq: string; deadLetters: unknown; ms: number }> => {
        const started = Date.now();
        const res = await fetch(`http://127.0.0.1:${worker.app.get(WorkerHttp).port}/healthz`);
        expect(res.status).toBe(200);
        const body = (await res.json()) as { rabbitmq: string; dead_letters: unknown };
        return { rabbitmq: body.rabbitmq, deadLetters: body.dead_letters, ms: Date.now() - started };
      };
      try {
        expect((await workerHealth()).rabbitmq).toBe('up');
        expect((await health()).rabbitmq).toBe('up');
        // Past the probes' interval: the next /healthz asks the broker again.
        await new Promise((r) => setTimeout(r, 1100));
        amqpProxy.partition();
        try {
          const w = await workerHealth();
          expect(w).toMatchObject({ rabbitmq: 'down', deadLetters: null });
          expect(w.ms).toBeLessThan(BOUND_MS);
          const a = await health();
          expect(a.rabbitmq).toBe('down');
          expect(a.ms).toBeLessThan(BOUND_MS);
        } finally {
          amqpProxy.heal();
        }
        let states = [(await workerHealth()).rabbitmq, (await health()).rabbitmq];
        for (const end = Date.now() + 5000; states.some((s) => s !== 'up') && Date.now() < end;) {
          await new Promise((r) => setTimeout(r, 250));
          states = [(await workerHealth()).rabbitmq, (await health()).rabbitmq];
        }
        expect(states).toEqual(['up', 'up']);
        expect((await workerHealth()).deadLetters).not.toBeNull();
      } finally {
        await worker.close();
      }
    });

    it('a broker that stopped confirming is up again once it answers, without waiting for a write', async () => {
      const [author, liker] = await createAccounts(t, 2, 'hp');
      const video = await publishVideo(t, author);
      amqpProxy.partition();
      try {
        // Its event's confirm times out (2 s): applied directly, and publishing pauses to probes.
        await t.http
          .post('/like/like')
          .set('authorization', `Bearer ${liker.token}`)
          .send({ video_id: video.id })
          .expect(200);
        let paused = (await health()).rabbitmq;
        for (const end = Date.now() + 4000; paused !== 'down' && Date.now() < end;) {
          await new Promise((r) => setTimeout(r, 100));
          paused = (await health()).rabbitmq;
        }
        expect(paused).toBe('down');
      } finally {
        amqpProxy.heal();
      }
      let state = (await health()).rabbitmq;
      for (const end = Date.now() + 5000; state !== 'up' && Date.now() < end;) {
        await new Promise((r) => setTimeout(r, 250));
        state = (await health()).rabbitmq;
      }
      expect(state).toBe('up');
    });
  });
}
