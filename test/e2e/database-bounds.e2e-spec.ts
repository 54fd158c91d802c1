import { DataSource } from 'typeorm';
import {
  buildDataSourceOptions,
  Database,
  isConnectionError,
  isDatabaseUnavailable,
  loadConfig,
} from '@app/core';
import { SCHEMA } from '@app/schema';
import { migrate } from '../../apps/api/src/app.factory';
import { TcpProxy } from '../helpers/tcp-proxy';
import { createTestEnv, MYSQL_ADMIN_URL, PROFILES, type TestEnv } from '../helpers/test-env';

/**
 * Every MySQL call is bounded (issue 15): through a proxy that partitions the database (sockets
 * open, nothing flowing), a statement fails within DB_STATEMENT_TIMEOUT_MS as "database
 * unavailable", the health ping within its 1 s, a pool wait within its deadline; after the
 * partition heals the pool replaces its dead connections by itself.
 */
const describeMysql = PROFILES.includes('full') ? describe : describe.skip;

describeMysql('database calls are bounded (MariaDB through a partitioning proxy)', () => {
  const admin = new URL(MYSQL_ADMIN_URL);
  const proxy = new TcpProxy(admin.hostname, Number(admin.port || 3306));
  let env: TestEnv;
  let ds: DataSource;
  let db: Database;
  const STATEMENT_MS = 1500;

  beforeAll(async () => {
    await proxy.start();
    env = await createTestEnv('full', { redis: false });
    await migrate(loadConfig(env.env));
    const url = new URL(env.env.DATABASE_URL);
    url.port = String(proxy.port);
    const config = loadConfig({
      ...env.env,
      DATABASE_URL: url.toString(),
      DB_STATEMENT_TIMEOUT_MS: String(STATEMENT_MS),
    });
    ds = new DataSource(buildDataSourceOptions(config, SCHEMA));
    await ds.initialize();
    db = new Database(ds, config);
  });

  afterAll(async () => {
    proxy.heal();
    await ds?.destroy();
    await env?.cleanup();
    await proxy.stop();
  });

  async function timed<T>(p: Promise<T>): Promise<{ ms: number; value?: T; error?: unknown }> {
    const started = Date.now();
    try {
      const value = await p;
      return { ms: Date.now() - started, value };
    } catch (error) {
      return { ms: Date.now() - started, error };
    }
  }

  it('answers normally before the partition', async () => {
    await expect(db.query('SELECT COUNT(*) AS n FROM videos')).resolves.toEqual([{ n: 0 }]);
    await expect(db.ping()).resolves.toBe(true);
  });

  it('during a partition: ping false within ~1 s, statements and transactions fail within their deadline', async () => {
    // Warm several pool connections, so the partition holds idle ones open.
    await Promise.all(Array.from({ length: 5 }, () => db.query('SELECT SLEEP(0.05)')));
    proxy.partition();
    try {
      const ping = await timed(db.ping());
      expect(ping.value).toBe(false);
      // Its 1 s timeout, with headroom for a loaded host (a call that waited for the silent
      // server would wait for ever; one without its bound, for the 5 s connect timeout at least).
      expect(ping.ms).toBeLessThan(1000 + 2000);

      const [read, write] = await Promise.all([
        timed(db.query('SELECT COUNT(*) AS n FROM videos')),
        timed(
          db.transaction((m) =>
            m.query('INSERT INTO processed_events (event_id, routing_key, processed_at) VALUES (?, ?, ?)', [
              'bounded-1',
              'x',
              Date.now(),
            ]),
          ),
        ),
      ]);
      for (const r of [read, write]) {
        expect(isConnectionError(r.error)).toBe(true);
        expect(isDatabaseUnavailable(r.error)).toBe(true);
        expect(r.ms).toBeLessThan(STATEMENT_MS + 2500);
      }
      // More callers than the pool holds: each still gets its answer in bounded time.
      const many = await Promise.all(Array.from({ length: 30 }, () => timed(db.query('SELECT 1'))));
      for (const r of many) {
        expect(r.error).toBeDefined();
        expect(r.ms).toBeLessThan(STATEMENT_MS + 3000);
      }
    } finally {
      proxy.heal();
    }
  });

  it('after the partition heals the pool recovers by itself within 5 s', async () => {
    const started = Date.now();
    let ok = false;
    while (!ok && Date.now() - started < 5000) {
      ok = (await timed(db.query('SELECT 1 AS one'))).value !== undefined;
    }
    expect(ok).toBe(true);
    const rows = await db.query<{ n: number }>(
      'SELECT COUNT(*) AS n FROM processed_events WHERE event_id = ?',
      ['bounded-1'],
    );
    // The write that timed out was rolled back with its connection, or never arrived.
    expect(Number(rows[0].n)).toBe(0);
    await expect(db.ping()).resolves.toBe(true);
  });
});
