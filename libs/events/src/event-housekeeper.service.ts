import { Inject, Injectable, OnModuleDestroy } from '@nestjs/common';
import { APP_CONFIG, Database, nowMs, PeriodicDuty, placeholders, type AppConfig } from '@app/core';
import { OutboxStatus } from './outbox.entity';

/** Sent/Applied outbox rows are kept this long for operators (the relay reads Pending rows only). */
export const OUTBOX_RETENTION_MS = 24 * 3600 * 1000;
const EVERY_MS = 60_000;
const CHUNK = 2000;

export interface PruneRun {
  processedEvents: number;
  outbox: number;
}

/**
 * Keeps the event tables bounded. Every minute it deletes `processed_events` rows older than
 * `DEDUPE_RETENTION` (default 7 days) and settled (Sent/Applied) `outbox` rows older than a day,
 * in chunks of a few thousand rows: each chunk is a non-locking read of the oldest ids and one
 * autocommit `DELETE … WHERE id IN`, so no long transaction and no range lock ever holds up the
 * writes and applies running meanwhile. Pending outbox rows are never touched.
 *
 * The dedupe record must outlive every copy of its event that may still arrive: a message waiting
 * in a queue (or a dead-letter queue an operator replays) longer than the retention, after its
 * event was applied another way, would be applied again. Runs in the worker, and in the api when
 * there is no broker (no worker then).
 */
@Injectable()
export class EventHousekeeper implements OnModuleDestroy {
  private readonly retentionMs: number;
  /** One pruner among several workers; another takes over 3 minutes after it dies. */
  private readonly duty: PeriodicDuty;

  constructor(
    private readonly db: Database,
    @Inject(APP_CONFIG) config: AppConfig,
  ) {
    this.retentionMs = config.dedupeRetentionSeconds * 1000;
    this.duty = new PeriodicDuty({
      name: EventHousekeeper.name,
      db,
      everyMs: EVERY_MS,
      lease: { name: 'event-housekeeper', ttlMs: 3 * EVERY_MS },
      run: () => this.prune(),
      report: (r) => {
        const run = r as PruneRun;
        return run.processedEvents + run.outbox > 0
          ? `pruned ${run.processedEvents} processed_events and ${run.outbox} outbox rows`
          : undefined;
      },
    });
  }

  start(): void {
    this.duty.start();
  }

  stop(): Promise<void> {
    return this.duty.stop();
  }

  async onModuleDestroy(): Promise<void> {
    await this.stop();
  }

  /** One full pass (exposed for tests): everything past its retention at `now`. */
  async prune(now = nowMs()): Promise<PruneRun> {
    const run: PruneRun = { processedEvents: 0, outbox: 0 };
    const dedupeCutoff = now - this.retentionMs;
    run.processedEvents = await this.chunks(
      'SELECT event_id AS id FROM processed_events WHERE processed_at < ? ORDER BY processed_at LIMIT ?',
      [dedupeCutoff],
      (n) => `DELETE FROM processed_events WHERE processed_at < ? AND event_id IN (${placeholders(n)})`,
      [dedupeCutoff],
    );
    const outboxCutoff = now - OUTBOX_RETENTION_MS;
    // One status at a time: each walks the (status, id) index from its oldest row.
    for (const status of [OutboxStatus.Sent, OutboxStatus.Applied]) {
      run.outbox += await this.chunks(
        'SELECT id FROM outbox WHERE status = ? AND update_time < ? ORDER BY id LIMIT ?',
        [status, outboxCutoff],
        (n) => `DELETE FROM outbox WHERE status = ? AND id IN (${placeholders(n)})`,
        [status],
      );
    }
    return run;
  }

  /** Reads up to CHUNK ids, deletes them (re-checking the condition), until a short read. */
  private async chunks(
    select: string,
    selectParams: unknown[],
    del: (n: number) => string,
    delParams: unknown[],
  ): Promise<number> {
    let total = 0;
    for (;;) {
      const rows = await this.db.query<{ id: string | number }>(select, [...selectParams, CHUNK]);
      if (rows.length === 0) return total;
      total += await this.db.execute(del(rows.length), [...delParams, ...rows.map((r) => r.id)]);
      // A pass in progress ends after its current chunk when the duty stops.
      if (rows.length < CHUNK || this.duty.stopping) return total;
    }
  }
}
