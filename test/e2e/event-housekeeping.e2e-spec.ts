import { randomUUID } from 'node:crypto';
import { EventApplier, EventHousekeeper, makeEvent, OUTBOX_RETENTION_MS, OutboxStatus } from '@app/events';
import { createAccount } from '../factories/accounts';
import { publishVideo } from '../factories/videos';
import { startApp, TestApp } from '../helpers/test-app';
import { PROFILES } from '../helpers/test-env';

const DAY = 86_400_000;

describe.each(PROFILES)('event tables are pruned (%s)', (profile) => {
  let t: TestApp;

  beforeAll(async () => {
    t = await startApp(profile);
  });
  afterAll(async () => {
    await t?.close();
  });

  const insertProcessed = async (ids: string[], at: number): Promise<void> => {
    for (let i = 0; i < ids.length; i += 500) {
      const chunk = ids.slice(i, i + 500);
      await t.sql(
        `INSERT INTO processed_events (event_id, routing_key, processed_at) VALUES ${chunk.map(() => '(?, ?, ?)').join(', ')}`,
        chunk.flatMap((id) => [id, 'like.like', at]),
      );
    }
  };
  const insertOutbox = async (status: OutboxStatus, at: number): Promise<string> => {
    const id = randomUUID();
    await t.sql(
      'INSERT INTO outbox (event_id, exchange, routing_key, payload, status, attempts, create_time, update_time) VALUES (?, ?, ?, ?, ?, 0, ?, ?)',
      [id, 'like.events', 'like.like', '{}', status, at, at],
    );
    return id;
  };
  const processedLeft = async (ids: string[]): Promise<number> =>
    Number(
      (
        await t.sql<{ n: number }>(
          `SELECT COUNT(*) AS n FROM processed_events WHERE event_id IN (${ids.map(() => '?').join(', ')})`,
          ids,
        )
      )[0].n,
    );
  const outboxLeft = async (ids: string[]): Promise<string[]> =>
    (
      await t.sql<{ event_id: string }>(
        `SELECT event_id FROM outbox WHERE event_id IN (${ids.map(() => '?').join(', ')})`,
        ids,
      )
    ).map((r) => r.event_id);

  it('drops dedupe records past DEDUPE_RETENTION (7 days) and settled outbox rows past a day, in chunks; keeps the rest and every Pending row', async () => {
    const now = Date.now();
    // More than one chunk (2,000) of expired dedupe records, and some still within retention.
    const expired = Array.from({ length: 2300 }, () => randomUUID());
    const kept = Array.from({ length: 5 }, () => randomUUID());
    await insertProcessed(expired, now - 8 * DAY);
    await insertProcessed(kept, now - 6 * DAY);
    const oldSent = await insertOutbox(OutboxStatus.Sent, now - OUTBOX_RETENTION_MS - 1000);
    const oldApplied = await insertOutbox(OutboxStatus.Applied, now - OUTBOX_RETENTION_MS - 1000);
    const oldPending = await insertOutbox(OutboxStatus.Pending, now - 30 * DAY);
    const recentSent = await insertOutbox(OutboxStatus.Sent, now - OUTBOX_RETENTION_MS + 60_000);

    const run = await t.app.get(EventHousekeeper).prune(now);

    expect(run.processedEvents).toBeGreaterThanOrEqual(expired.length); // other suites' rows are recent
    expect(await processedLeft(expired)).toBe(0);
    expect(await processedLeft(kept)).toBe(kept.length);
    expect(run.outbox).toBeGreaterThanOrEqual(2);
    expect((await outboxLeft([oldSent, oldApplied, oldPending, recentSent])).sort()).toEqual(
      [oldPending, recentSent].sort(),
    );
    // A second pass finds nothing more.
    expect(await t.app.get(EventHousekeeper).prune(now)).toEqual({ processedEvents: 0, outbox: 0 });
  });

  it('pruning keeps what dedupe still needs: an event applied before a prune is not applied again after it', async () => {
    const owner = await createAccount(t, 'keeper');
    const v = await publishVideo(t, owner);
    const e = makeEvent('like.like', { account_id: owner.id, video_id: v.id });
    const applier = t.app.get(EventApplier);
    await applier.applyDirectly([e]);
    await t.app.get(EventHousekeeper).prune();
    await applier.applyDirectly([e]);
    const rows = await t.sql<{ likes_count: number }>('SELECT likes_count FROM videos WHERE id = ?', [v.id]);
    expect(Number(rows[0].likes_count)).toBe(1);
  });
});
