import { Inject, Injectable, Logger } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import { Database, nowMs } from '@app/core';
import { FILE_STORAGE } from './file-storage';
import type { FileStorage } from './file-storage';

/** A queued deletion runs at once after its commit; the sweeper takes over after this long. */
const GRACE_MS = 60_000;
const MAX_BACKOFF_MS = 6 * 3600_000;

/**
 * Deletes stored files durably: {@link queue} records them inside the transaction that stops
 * them being used, {@link flush} deletes them after commit, and whatever failed (or was left
 * by a crash) is retried by {@link retryDue} with a growing backoff. A key ending in `/` is a
 * folder (a chunked upload's parts).
 */
@Injectable()
export class FileDeletions {
  private readonly logger = new Logger(FileDeletions.name);

  constructor(
    private readonly db: Database,
    @Inject(FILE_STORAGE) private readonly storage: FileStorage,
  ) {}

  async queue(manager: EntityManager, keys: string[], videoId = 0, now = nowMs()): Promise<void> {
    if (keys.length === 0) return;
    const ignore = this.db.dialect === 'mysql' ? 'INSERT IGNORE' : 'INSERT OR IGNORE';
    await manager.query(
      `${ignore} INTO file_deletions (storage_key, video_id, attempts, next_attempt_at, create_time) VALUES ${keys
        .map(() => '(?, ?, 0, ?, ?)')
        .join(', ')}`,
      keys.flatMap((k) => [k, videoId, now + GRACE_MS, now]),
    );
  }

  /** Deletes the files now; never throws (a failure stays queued for the sweeper). */
  async flush(keys: string[]): Promise<number> {
    let done = 0;
    for (const key of keys) {
      if (await this.deleteOne(key)) done++;
      else {
        await this.db
          .execute(
            'UPDATE file_deletions SET attempts = attempts + 1, next_attempt_at = ? WHERE storage_key = ?',
            [nowMs() + GRACE_MS, key],
          )
          .catch(() => undefined);
      }
    }
    return done;
  }

  /** After a video's delete committed: its files. */
  async flushVideo(videoId: number): Promise<void> {
    const rows = await this.db.query<{ storage_key: string }>(
      'SELECT storage_key FROM file_deletions WHERE video_id = ?',
      [videoId],
    );
    await this.flush(rows.map((r) => r.storage_key));
  }

  /** The sweeper's pass over deletions that are due; returns how many files went. */
  async retryDue(now = nowMs(), batch = 200): Promise<number> {
    const rows = await this.db.query<{ storage_key: string; attempts: number }>(
      'SELECT storage_key, attempts FROM file_deletions WHERE next_attempt_at <= ? ORDER BY next_attempt_at LIMIT ?',
      [now, batch],
    );
    let done = 0;
    for (const r of rows) {
      // Pushed back first, so a failure (or another instance's concurrent pass) waits its turn.
      const backoff = Math.min(MAX_BACKOFF_MS, GRACE_MS * 2 ** Math.min(Number(r.attempts), 20));
      await this.db.execute(
        'UPDATE file_deletions SET attempts = attempts + 1, next_attempt_at = ? WHERE storage_key = ?',
        [now + backoff, r.storage_key],
      );
      if (await this.deleteOne(r.storage_key)) done++;
    }
    return done;
  }

  private async deleteOne(key: string): Promise<boolean> {
    try {
      await (key.endsWith('/') ? this.storage.deletePrefix(key) : this.storage.delete(key));
      await this.db.execute('DELETE FROM file_deletions WHERE storage_key = ?', [key]);
      return true;
    } catch (err) {
      this.logger.warn(`deleting ${key} failed, will retry: ${(err as Error).message}`);
      return false;
    }
  }
}
