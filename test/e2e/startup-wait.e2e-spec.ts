import { spawnApi, spawnWorker, type ServerProcess } from '../helpers/processes';
import { TcpProxy } from '../helpers/tcp-proxy';
import { createTestEnv, PROFILES, type TestEnv } from '../helpers/test-env';

jest.setTimeout(120_000);

/** A line listener for a spawned process and a promise kept once it prints a line matching `pattern`. */
function logged(pattern: RegExp): { onLine: (line: string) => void; seen: Promise<void> } {
  let seen!: () => void;
  const promise = new Promise<void>((resolve) => (seen = resolve));
  return { onLine: (line) => pattern.test(line) && seen(), seen: promise };
}

/**
 * A process started while the database is unreachable (a container beside a database that is
 * still starting, a brief outage) waits for it, up to `DB_STARTUP_WAIT_MS`, instead of exiting at
 * once; with 0 it exits. The built api and worker, through a proxy of our own in front of MariaDB
 * that refuses (drops) every connection until it is restored.
 */
if (PROFILES.includes('full')) {
  describe('a process started while the database is unreachable (full)', () => {
    let env: TestEnv;
    let proxy: TcpProxy;
    let dbUrl: string;
    const spawned: Promise<ServerProcess>[] = [];

    beforeAll(async () => {
      env = await createTestEnv('full');
      const target = new URL(env.env.DATABASE_URL);
      proxy = new TcpProxy(target.hostname, Number(target.port || 3306));
      target.hostname = '127.0.0.1';
      target.port = String(await proxy.start());
      dbUrl = target.toString();
    });
    afterAll(async () => {
      for (const p of await Promise.allSettled(spawned))
        if (p.status === 'fulfilled') await p.value.kill('SIGKILL');
      await proxy?.stop();
      await env?.cleanup();
    });

    it('the api and the worker retry until it answers, then start', async () => {
      proxy.cut();
      const processEnv = { ...env.env, DATABASE_URL: dbUrl, LOG_LEVEL: 'warn' };
      // Each has logged a failed try and is still there, retrying. Waiting on the log, not a fixed
      // time: on a loaded host a process can take seconds to reach its first try.
      const retrying = /database unreachable at startup .*retrying in \d+ ms/;
      const apiTried = logged(retrying);
      const workerTried = logged(retrying);
      const api = spawnApi(processEnv, undefined, apiTried.onLine);
      const worker = spawnWorker(processEnv, workerTried.onLine);
      spawned.push(api, worker);
      const early = await Promise.race([
        Promise.race([api, worker]).then(
          () => 'one started',
          () => 'one exited',
        ),
        Promise.all([apiTried.seen, workerTried.seen]).then(() => 'both retrying'),
      ]);
      expect(early).toBe('both retrying');
      proxy.restore();
      const [a, w] = await Promise.all([api, worker]);
      expect(a.output()).toMatch(retrying);
      expect(w.output()).toMatch(retrying);
      const health = await fetch(`${a.url}/healthz`);
      expect(health.status).toBe(200);
      expect(((await health.json()) as { database: string }).database).toBe('up');
      // Migrated and serving.
      const feed = await fetch(`${a.url}/feed/listLatest`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '{}',
      });
      expect(feed.status).toBe(200);
    });

    it('with DB_STARTUP_WAIT_MS=0 the api exits at once', async () => {
      proxy.cut();
      try {
        const before = Date.now();
        await expect(
          spawnApi({ ...env.env, DATABASE_URL: dbUrl, LOG_LEVEL: 'warn', DB_STARTUP_WAIT_MS: '0' }),
        ).rejects.toThrow(/api exited with 1/);
        expect(Date.now() - before).toBeLessThan(15_000);
      } finally {
        proxy.restore();
      }
    });
  });
}
