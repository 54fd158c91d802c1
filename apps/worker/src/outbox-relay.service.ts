import { Injectable, Logger } from '@nestjs/common';
import { In, LessThan } from 'typeorm';
import { Database, nowMs, sleep } from '@app/core';
import {
  EventApplier,
  EventPublisher,
  OutboxEntity,
  OutboxMarker,
  OutboxStatus,
  parseEvent,
  type DomainEvent,
} from '@app/events';

/** A Pending row younger than this may still be in its api's hands (publish timeout is 2 s). */
export const RELAY_STALE_MS = 3000;
const INTERVAL_MS = 1000;
const BATCH = 500;

export interface RelayRun {
  published: number;
  applied: number;
  failed: number;
}

/**
 * Finishes what an api left undone (it died between commit and publish, or its direct apply
 * failed): every ~1 s, Pending outbox rows older than a few seconds are published with confirm
 * and marked Sent, or, when the broker is down, applied directly and marked Applied. At least
 * once either way; `processed_events` makes it at most once.
 */
@Injectable()
export class OutboxRelay {
  private readonly logger = new Logger(OutboxRelay.name);
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<unknown> = Promise.resolve();
  private stopped = true;

  constructor(
    private readonly db: Database,
    private readonly publisher: EventPublisher,
    private readonly applier: EventApplier,
    private readonly marker: OutboxMarker,
  ) {}

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.schedule();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.running = this.tick().finally(() => this.schedule());
    }, INTERVAL_MS);
  }

  private async tick(): Promise<void> {
    try {
      let run: RelayRun;
      do {
        run = await this.runOnce();
        if (run.published + run.applied + run.failed > 0) {
          this.logger.log(
            `outbox relay: ${run.published} published, ${run.applied} applied directly, ${run.failed} failed`,
          );
        }
      } while (!this.stopped && run.published + run.applied === BATCH);
    } catch (err) {
      this.logger.warn(`outbox relay run failed: ${(err as Error).message}`);
      await sleep(INTERVAL_MS);
    }
  }

  /** One pass over stale Pending rows (exposed for tests). */
  async runOnce(staleMs = RELAY_STALE_MS): Promise<RelayRun> {
    const rows = await this.db.manager.find(OutboxEntity, {
      where: { status: OutboxStatus.Pending, updateTime: LessThan(nowMs() - staleMs) },
      order: { id: 'ASC' },
      take: BATCH,
    });
    const run: RelayRun = { published: 0, applied: 0, failed: 0 };
    if (rows.length === 0) return run;
    const events: (DomainEvent | null)[] = rows.map((r) => {
      const parsed = parseEvent(r.routingKey, r.payload);
      if (parsed.ok) return parsed.event;
      this.logger.error(`outbox row ${r.id} (${r.eventId}) does not parse: ${parsed.error}`);
      return null;
    });
    const confirmed = await Promise.all(
      events.map((e) => (e && this.publisher.enabled ? this.publisher.publish(e) : Promise.resolve(false))),
    );
    const sent: string[] = [];
    const applied: string[] = [];
    const failed: number[] = [];
    for (let i = 0; i < rows.length; i++) {
      const e = events[i];
      if (confirmed[i]) {
        sent.push(rows[i].eventId);
        continue;
      }
      if (!e) {
        failed.push(rows[i].id);
        continue;
      }
      try {
        await this.applier.applyStrict(e);
        applied.push(rows[i].eventId);
      } catch (err) {
        failed.push(rows[i].id);
        this.logger.warn(`direct apply of outbox row ${rows[i].id} failed: ${(err as Error).message}`);
      }
    }
    this.marker.mark(sent, OutboxStatus.Sent);
    this.marker.mark(applied, OutboxStatus.Applied);
    await this.marker.flush();
    if (failed.length > 0) {
      await this.db.transaction((m) =>
        m
          .createQueryBuilder()
          .update(OutboxEntity)
          .set({ attempts: () => 'attempts + 1', updateTime: nowMs() })
          .where({ id: In(failed), status: OutboxStatus.Pending })
          .execute(),
      );
    }
    run.published = sent.length;
    run.applied = applied.length;
    run.failed = failed.length;
    return run;
  }
}
