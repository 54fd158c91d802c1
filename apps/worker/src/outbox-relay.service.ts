import { Injectable, Logger } from '@nestjs/common';
import { In, LessThan } from 'typeorm';
import { Database, isDatabaseUnavailable, nowMs, PeriodicDuty } from '@app/core';
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
/** The relay's lease: one worker relays at a time; another takes over this long after it dies. */
export const RELAY_LEASE_MS = 10_000;
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
 * once either way; `processed_events` makes it at most once. With several workers only the holder
 * of the `outbox-relay` lease relays (renewed every pass; taken over {@link RELAY_LEASE_MS} after its
 * holder dies), so a stale row is normally published once.
 */
@Injectable()
export class OutboxRelay {
  private readonly logger = new Logger(OutboxRelay.name);
  private readonly duty: PeriodicDuty;
  /** Rows this process published / applied since it started (for tests and metrics). */
  readonly totals = { published: 0, applied: 0 };

  constructor(
    private readonly db: Database,
    private readonly publisher: EventPublisher,
    private readonly applier: EventApplier,
    private readonly marker: OutboxMarker,
  ) {
    this.duty = new PeriodicDuty({
      name: OutboxRelay.name,
      db,
      everyMs: INTERVAL_MS,
      jitter: 0,
      // Several workers: only the lease holder relays, so a stale row is published once.
      lease: { name: 'outbox-relay', ttlMs: RELAY_LEASE_MS },
      run: () => this.drain(),
    });
  }

  start(): void {
    this.duty.start();
  }

  stop(): Promise<void> {
    return this.duty.stop();
  }

  /** Passes until a short one (a backlog is worked off without waiting a second between batches). */
  private async drain(): Promise<void> {
    let run: RelayRun;
    do {
      run = await this.runOnce();
      if (run.published + run.applied + run.failed > 0) {
        this.logger.log(
          `outbox relay: ${run.published} published, ${run.applied} applied directly, ${run.failed} failed`,
        );
      }
    } while (!this.duty.stopping && run.published + run.applied === BATCH);
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
    const direct: { row: OutboxEntity; event: DomainEvent }[] = [];
    rows.forEach((row, i) => {
      const e = events[i];
      if (confirmed[i]) sent.push(row.eventId);
      else if (!e) failed.push(row.id);
      else direct.push({ row, event: e });
    });
    if (direct.length > 0) {
      try {
        // The broker did not take them: apply them here, together (each still counts once).
        await this.applier.applyDirectly(direct.map((d) => d.event));
        applied.push(...direct.map((d) => d.row.eventId));
      } catch (err) {
        if (isDatabaseUnavailable(err)) throw err;
        failed.push(...direct.map((d) => d.row.id));
        this.logger.warn(`direct apply of ${direct.length} outbox rows failed: ${(err as Error).message}`);
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
    this.totals.published += run.published;
    this.totals.applied += run.applied;
    run.failed = failed.length;
    return run;
  }
}
