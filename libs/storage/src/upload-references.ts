import { Injectable } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import { Database, placeholders } from '@app/core';

/**
 * The storage key in any URL of one of our files, whatever host or base it was given with
 * (`/static/<key>`, PUBLIC_BASE_URL or MEDIA_BASE_URL, past or present): the key's 128 random
 * bits name the file.
 */
const KEY_IN_URL = /\/([a-z]+\/\d{4}\/\d{2}\/[0-9a-f]{32}\.[a-z0-9]+)$/;

export function storageKeyOfUrl(url: string | null | undefined): string | null {
  if (!url) return null;
  return KEY_IN_URL.exec(url)?.[1] ?? null;
}

export interface UploadCandidate {
  id: number;
  accountId: number;
  storageKey: string;
  createTime: number;
}

const PAGE = 1000;
/** Clocks of api instances may differ a little: look at videos from a bit before the upload. */
const CLOCK_SLACK_MS = 3600_000;

/**
 * Who uses an uploaded file. Files are referenced by URL from exactly three columns:
 * `videos.play_url`, `videos.cover_url` and `accounts.avatar_url` (SPEC §3.1/§3.2). Those URLs
 * may be root-relative or absolute under any base, so matching is by the key at their end.
 * Read-only; the domains that own those tables never depend on storage for it.
 */
@Injectable()
export class UploadReferences {
  constructor(private readonly db: Database) {}

  /** The author and the stored keys of a video (inside the transaction deleting it). */
  async ofVideo(
    manager: EntityManager,
    videoId: number,
  ): Promise<{ authorId: number; keys: string[] } | null> {
    const [v] = await manager.query<{ author_id: number; play_url: string; cover_url: string }[]>(
      'SELECT author_id, play_url, cover_url FROM videos WHERE id = ?',
      [videoId],
    );
    if (!v) return null;
    const keys = [storageKeyOfUrl(v.play_url), storageKeyOfUrl(v.cover_url)].filter((k): k is string => !!k);
    return { authorId: Number(v.author_id), keys: [...new Set(keys)] };
  }

  /** Which of `keys` another video of the author, or the author's avatar, still uses. */
  async stillUsedByAuthor(
    manager: EntityManager,
    authorId: number,
    exceptVideoId: number,
    keys: string[],
  ): Promise<Set<string>> {
    const used = new Set<string>();
    if (keys.length === 0) return used;
    const likes = keys.map((k) => `%/${k}`);
    const cond = keys.map(() => 'play_url LIKE ? OR cover_url LIKE ?').join(' OR ');
    const rows = await manager.query<{ play_url: string; cover_url: string }[]>(
      `SELECT play_url, cover_url FROM videos WHERE author_id = ? AND id <> ? AND (${cond})`,
      [authorId, exceptVideoId, ...likes.flatMap((l) => [l, l])],
    );
    const [account] = await manager.query<{ avatar_url: string | null }[]>(
      'SELECT avatar_url FROM accounts WHERE id = ?',
      [authorId],
    );
    for (const url of [...rows.flatMap((r) => [r.play_url, r.cover_url]), account?.avatar_url]) {
      const k = storageKeyOfUrl(url);
      if (k && keys.includes(k)) used.add(k);
    }
    return used;
  }

  /**
   * The keys among `candidates` that any video (published since the oldest candidate was
   * uploaded: none could name a file before it existed) or its owner's avatar uses. Walks
   * those videos by the (create_time, id) index in pages, so memory stays bounded.
   */
  async referencedAmong(candidates: UploadCandidate[]): Promise<Set<string>> {
    const found = new Set<string>();
    if (candidates.length === 0) return found;
    const wanted = new Set(candidates.map((c) => c.storageKey));
    const check = (url: string | null | undefined) => {
      const k = storageKeyOfUrl(url);
      if (k && wanted.has(k)) found.add(k);
    };
    let time = Math.min(...candidates.map((c) => c.createTime)) - CLOCK_SLACK_MS;
    let id = 0;
    for (;;) {
      const rows = await this.db.query<{
        id: number;
        create_time: string | number;
        play_url: string;
        cover_url: string;
      }>(
        `SELECT id, create_time, play_url, cover_url FROM videos
         WHERE create_time > ? OR (create_time = ? AND id > ?) ORDER BY create_time, id LIMIT ?`,
        [time, time, id, PAGE],
      );
      for (const r of rows) {
        check(r.play_url);
        check(r.cover_url);
      }
      if (rows.length < PAGE) break;
      const last = rows[rows.length - 1];
      time = Number(last.create_time);
      id = Number(last.id);
    }
    const accountIds = [...new Set(candidates.map((c) => c.accountId))];
    const avatars = await this.db.query<{ avatar_url: string | null }>(
      `SELECT avatar_url FROM accounts WHERE id IN (${placeholders(accountIds.length)})`,
      accountIds,
    );
    for (const a of avatars) check(a.avatar_url);
    return found;
  }
}
