import { Inject, Injectable, Logger, OnModuleDestroy } from '@nestjs/common';
import { APP_CONFIG, Database, nowMs, type AppConfig } from '@app/core';
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
  private readonly logger = new Logger(EventHousekeeper.name);
  private readonly retentionMs: number;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<unknown> = Promise.resolve();
  private stopped = true;
  /** Set on stop: a pass in progress ends after its current chunk. */
  private closing = false;

  constructor(
    private readonly db: Database,
    @Inject(APP_CONFIG) config: AppConfig,
  ) {
    this.retentionMs = config.dedupeRetentionSeconds * 1000;
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.closing = false;
    this.schedule();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.closing = true;
    clearTimeout(this.timer);
    await this.running;
  }

  async onModuleDestroy(): Promise<void> {
    await this.stop();
  }

  private schedule(): void {
    if (this.stopped) return;
    // Jittered, so replicas started together do not prune in step.
    this.timer = setTimeout(
      () => {
        this.running = this.prune()
          .then((run) => {
            if (run.processedEvents + run.outbox > 0) {
              this.logger.log(`pruned ${run.processedEvents} processed_events and ${run.outbox} outbox rows`);
            }
          })
          .catch((err: unknown) =>
            this.logger.warn(`pruning the event tables failed: ${(err as Error).message}`),
          )
          .finally(() => this.schedule());
      },
      EVERY_MS * (0.75 + Math.random() / 2),
    );
    this.timer.unref();
  }

  /** One full pass (exposed for tests): everything past its retention at `now`. */
  async prune(now = nowMs()): Promise<PruneRun> {
    const run: PruneRun = { processedEvents: 0, outbox: 0 };
    const dedupeCutoff = now - this.retentionMs;
    run.processedEvents = await this.chunks(
      'SELECT event_id AS id FROM processed_events WHERE processed_at < ? ORDER BY processed_at LIMIT ?',
      [dedupeCutoff],
      (n) => `DELETE FROM processed_events WHERE processed_at < ? AND event_id IN (${marks(n)})`,
      [dedupeCutoff],
    );
    const outboxCutoff = now - OUTBOX_RETENTION_MS;
    // One status at a time: each walks the (status, id) index from its oldest row.
    for (const status of [OutboxStatus.Sent, OutboxStatus.Applied]) {
      run.outbox += await this.chunks(
        'SELECT id FROM outbox WHERE status = ? AND update_time < ? ORDER BY id LIMIT ?',
        [status, outboxCutoff],
        (n) => `DELETE FROM outbox WHERE status = ? AND id IN (${marks(n)})`,
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
      if (rows.length < CHUNK || this.closing) return total;
    }
  }
}

function marks(n: number): string {
  return Array.from({ length: n }, () => '?').join(', ');
}
