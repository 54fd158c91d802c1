import { Injectable, Logger, OnModuleDestroy } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import { Database, lockClause, nowMs, PeriodicDuty, placeholders } from '@app/core';
import { partsPrefix } from './chunk-upload.service';
import { FileDeletions } from './file-deletions';
import { UploadCandidate, UploadReferences } from './upload-references';

/** An upload no video or avatar uses this long after it was made is collected. */
export const UNREFERENCED_TTL_MS = 24 * 3600_000;
const EVERY_MS = 5 * 60_000;
const BATCH = 200;

export interface SweepRun {
  expiredSessions: number;
  collectedUploads: number;
  keptUploads: number;
  deletedFiles: number;
}

/**
 * Keeps storage to what is used (issue 12 finding #11, SPEC §8.1):
 * - a deleted video's own files go with it: {@link releaseVideoFiles} runs inside the deleting
 *   transaction (drops the upload rows, queues the files), {@link afterVideoDeleted} deletes the
 *   files after commit;
 * - every few minutes, {@link sweep}: chunked-upload sessions 24 h past their last chunk, with
 *   their parts; uploads no video or avatar used within 24 h; deletions that failed before.
 * Every step is idempotent, so api instances may sweep at the same time.
 */
@Injectable()
export class UploadJanitor implements OnModuleDestroy {
  private readonly logger = new Logger(UploadJanitor.name);
  /** Every api instance may sweep (each step is idempotent); a sweep in progress ends after its batch on stop. */
  private readonly duty: PeriodicDuty;

  constructor(
    private readonly db: Database,
    private readonly references: UploadReferences,
    private readonly deletions: FileDeletions,
  ) {
    this.duty = new PeriodicDuty({
      name: UploadJanitor.name,
      db,
      everyMs: EVERY_MS,
      run: () => this.sweep(),
      report: (r) => {
        const run = r as SweepRun;
        return run.expiredSessions + run.collectedUploads + run.deletedFiles > 0
          ? `swept ${run.expiredSessions} expired upload sessions, collected ${run.collectedUploads} unused uploads, deleted ${run.deletedFiles} files`
          : undefined;
      },
    });
  }

  /**
   * Inside the transaction deleting `videoId`: its play and cover files, if they are uploads of
   * its author that no other video of the author nor the author's avatar uses, stop being
   * uploads (no longer count against the quota nor pass as the author's) and are queued for
   * deletion. A file of someone else is never touched.
   */
  async releaseVideoFiles(manager: EntityManager, videoId: number): Promise<void> {
    const video = await this.references.ofVideo(manager, videoId);
    if (!video || video.keys.length === 0) return;
    const owned = await manager.query<{ id: number; storage_key: string }[]>(
      `SELECT id, storage_key FROM uploads WHERE account_id = ? AND storage_key IN (${placeholders(video.keys.length)})`,
      [video.authorId, ...video.keys],
    );
    if (owned.length === 0) return;
    const used = await this.references.stillUsedByAuthor(
      manager,
      video.authorId,
      videoId,
      owned.map((u) => u.storage_key),
    );
    const doomed = owned.filter((u) => !used.has(u.storage_key));
    if (doomed.length === 0) return;
    await manager.query(
      `DELETE FROM uploads WHERE id IN (${placeholders(doomed.length)})`,
      doomed.map((u) => u.id),
    );
    await this.deletions.queue(
      manager,
      doomed.map((u) => u.storage_key),
      videoId,
    );
  }

  /** After the video's delete committed; never throws (the sweeper retries what fails). */
  async afterVideoDeleted(videoId: number): Promise<void> {
    await this.deletions.flushVideo(videoId);
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

  /** One full pass at `now` (exposed for tests). */
  async sweep(now = nowMs()): Promise<SweepRun> {
    const run: SweepRun = { expiredSessions: 0, collectedUploads: 0, keptUploads: 0, deletedFiles: 0 };
    run.expiredSessions = await this.dropExpiredSessions(now);
    const collected = await this.collectUnreferenced(now);
    run.collectedUploads = collected.collected;
    run.keptUploads = collected.kept;
    for (;;) {
      const n = await this.deletions.retryDue(now + 1, BATCH);
      run.deletedFiles += n;
      if (n < BATCH || this.duty.stopping) break;
    }
    return run;
  }

  /** Sessions past `expires_at` (not being assembled): rows now, their parts' folder queued. */
  private async dropExpiredSessions(now: number): Promise<number> {
    let total = 0;
    for (;;) {
      const rows = await this.db.query<{ id: number; upload_id: string }>(
        'SELECT id, upload_id FROM upload_sessions WHERE expires_at <= ? AND assembling_until <= ? ORDER BY expires_at LIMIT ?',
        [now, now, BATCH],
      );
      for (const r of rows) {
        const dropped = await this.db.transaction(async (m) => {
          // Re-read under the row lock: a part may have just renewed it.
          const [still] = await m.query<unknown[]>(
            `SELECT id FROM upload_sessions WHERE id = ? AND expires_at <= ? AND assembling_until <= ?${lockClause(this.db.dialect, 'update')}`,
            [r.id, now, now],
          );
          if (!still) return false;
          await m.query('DELETE FROM upload_parts WHERE session_id = ?', [r.id]);
          await m.query('DELETE FROM upload_sessions WHERE id = ?', [r.id]);
          await this.deletions.queue(m, [partsPrefix(r.upload_id)], 0, now);
          return true;
        });
        if (dropped) {
          total++;
          await this.deletions.flush([partsPrefix(r.upload_id)]);
        }
      }
      if (rows.length < BATCH || this.duty.stopping) return total;
    }
  }

  /**
   * Uploads made over a day ago and not yet seen used: those a video or their owner's avatar
   * uses are marked kept for good; the rest are dropped and their files deleted.
   */
  private async collectUnreferenced(now: number): Promise<{ collected: number; kept: number }> {
    const out = { collected: 0, kept: 0 };
    for (;;) {
      const rows = await this.db.query<{
        id: number;
        account_id: number;
        storage_key: string;
        create_time: string | number;
      }>(
        'SELECT id, account_id, storage_key, create_time FROM uploads WHERE referenced = 0 AND create_time <= ? ORDER BY create_time, id LIMIT ?',
        [now - UNREFERENCED_TTL_MS, BATCH],
      );
      if (rows.length === 0) return out;
      const candidates: UploadCandidate[] = rows.map((r) => ({
        id: Number(r.id),
        accountId: Number(r.account_id),
        storageKey: r.storage_key,
        createTime: Number(r.create_time),
      }));
      const used = await this.references.referencedAmong(candidates);
      const kept = candidates.filter((c) => used.has(c.storageKey));
      const unused = candidates.filter((c) => !used.has(c.storageKey));
      if (kept.length) {
        await this.db.execute(
          `UPDATE uploads SET referenced = 1 WHERE id IN (${placeholders(kept.length)})`,
          kept.map((c) => c.id),
        );
      }
      if (unused.length) {
        const doomed = await this.db.transaction(async (m) => {
          // Only rows still unreferenced: another instance may have judged them meanwhile.
          const still = await m.query<{ id: number; storage_key: string }[]>(
            `SELECT id, storage_key FROM uploads WHERE referenced = 0 AND id IN (${placeholders(unused.length)})`,
            unused.map((c) => c.id),
          );
          if (still.length === 0) return [];
          await m.query(
            `DELETE FROM uploads WHERE id IN (${placeholders(still.length)})`,
            still.map((r) => r.id),
          );
          const keys = still.map((r) => r.storage_key);
          await this.deletions.queue(m, keys, 0, now);
          return keys;
        });
        await this.deletions.flush(doomed);
      }
      out.kept += kept.length;
      out.collected += unused.length;
      if (rows.length < BATCH || this.duty.stopping) return out;
    }
  }
}
