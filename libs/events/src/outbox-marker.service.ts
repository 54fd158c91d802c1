import { Injectable, Logger, BeforeApplicationShutdown } from '@nestjs/common';
import { Database, nowMs } from '@app/core';
import { OutboxStatus } from './outbox.entity';

const FLUSH_DELAY_MS = 25;
const MAX_BATCH = 500;

/**
 * Marks outbox rows Sent/Applied in batches: one autocommit UPDATE per status every few
 * milliseconds instead of one transaction per request. Only rows still `Pending` change. A mark
 * lost to a crash leaves the row Pending, and the relay re-publishes it, which dedupe makes
 * harmless.
 */
@Injectable()
export class OutboxMarker implements BeforeApplicationShutdown {
  private readonly logger = new Logger(OutboxMarker.name);
  private readonly queued = new Map<OutboxStatus, string[]>();
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> = Promise.resolve();

  constructor(private readonly db: Database) {}

  mark(eventIds: string[], status: OutboxStatus.Sent | OutboxStatus.Applied): void {
    if (eventIds.length === 0) return;
    const list = this.queued.get(status) ?? [];
    list.push(...eventIds);
    this.queued.set(status, list);
    if (list.length >= MAX_BATCH) void this.flush();
    else this.timer ??= setTimeout(() => void this.flush(), FLUSH_DELAY_MS);
  }

  /** Writes everything queued so far (serialised with earlier flushes). */
  flush(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    const batches = [...this.queued.entries()];
    this.queued.clear();
    this.flushing = this.flushing.then(async () => {
      for (const [status, ids] of batches) {
        for (let i = 0; i < ids.length; i += MAX_BATCH) {
          const chunk = ids.slice(i, i + MAX_BATCH);
          try {
            await this.db.execute(
              `UPDATE outbox SET status = ?, update_time = ? WHERE status = ? AND event_id IN (${chunk.map(() => '?').join(', ')})`,
              [status, nowMs(), OutboxStatus.Pending, ...chunk],
            );
          } catch (err) {
            this.logger.warn(
              `could not mark ${chunk.length} outbox rows (left to the relay): ${(err as Error).message}`,
            );
          }
        }
      }
    });
    return this.flushing;
  }

  async beforeApplicationShutdown(): Promise<void> {
    await this.flush();
  }
}
