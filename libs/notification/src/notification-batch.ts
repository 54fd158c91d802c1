import { Logger } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import type { AfterCommitEffect, DeferredWrite } from '@app/events';
import type { NotificationLive } from './notification-live';
import type { NotificationRepository, NotificationSource } from './notification.repository';
import { toNotificationView, type NewNotification } from './notification.types';

/**
 * One transaction's notifications (all the events it applies): a {@link DeferredWrite} that
 * resolves them (three reads) and inserts them in one `INSERT IGNORE` before commit, and the
 * {@link AfterCommitEffect} that then reads back the rows this batch created and publishes each
 * to its recipient's streams. An event found already applied has its writes discarded; its
 * effect still runs, resolving the rows anew, so a notification whose first publish was lost (a
 * crash between commit and publish) is published on redelivery. Publishing twice is harmless:
 * streams skip an id they have sent. Live delivery is best effort on top of the stored rows: the
 * effect never fails the apply.
 */
export class NotificationBatch implements DeferredWrite, AfterCommitEffect {
  private static readonly logger = new Logger('NotificationBatch');
  private readonly sources: NotificationSource[] = [];
  private readonly deletedComments: { videoId: number; commentId: number }[] = [];
  /** What the flush inserted (or skipped as already there); null when the writes were discarded. */
  private resolved: NewNotification[] | null = null;

  constructor(
    private readonly repo: NotificationRepository,
    private readonly live: NotificationLive,
  ) {}

  add(source: NotificationSource): void {
    this.sources.push(source);
  }

  forgetComment(videoId: number, commentId: number): void {
    this.deletedComments.push({ videoId, commentId });
  }

  async flush(manager: EntityManager): Promise<void> {
    const rows = await this.repo.resolve(manager, this.sources);
    await this.repo.insertIgnore(manager, rows);
    await this.repo.deleteForComments(manager, this.deletedComments);
    this.resolved = rows;
  }

  async run(): Promise<void> {
    try {
      const all = this.resolved ?? (await this.repo.resolve(this.repo.db.manager, this.sources));
      if (all.length === 0) return;
      // Only recipients with an open stream somewhere need the rows read back and published.
      const listening = await this.live.listening([...new Set(all.map((r) => r.recipientId))]);
      const rows = all.filter((r) => listening.has(r.recipientId));
      if (rows.length === 0) return;
      const created = await this.repo.findCreated(rows);
      await Promise.all(
        created.map((n) =>
          this.live.publish(n.recipientId, { kind: 'notification', notification: toNotificationView(n) }),
        ),
      );
    } catch (err) {
      NotificationBatch.logger.warn(`live delivery of notifications failed: ${(err as Error).message}`);
    }
  }
}
