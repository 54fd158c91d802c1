import { Injectable } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import { Database, placeholders } from '@app/core';
import { lockedVideoAuthors } from '@app/video';
import { MAX_MENTIONS_PER_COMMENT, parseMentions } from './mentions';
import {
  excerpt,
  type NewNotification,
  type NotificationRow,
  type NotificationType,
} from './notification.types';

/** An event a notification may come from, as the handlers record it. */
export type NotificationSource =
  | { kind: 'like'; eventId: string; ts: number; actorId: number; videoId: number }
  | { kind: 'comment'; eventId: string; ts: number; actorId: number; videoId: number; commentId: number }
  | { kind: 'follow'; eventId: string; ts: number; actorId: number; targetId: number };

interface RawRow {
  id: number | string;
  recipient_id: number | string;
  type: string;
  actor_id: number | string;
  video_id: number | string;
  comment_id: number | string;
  once_key: number | string;
  content: string;
  is_read: number | string | boolean;
  create_time: number | string;
  event_id: string;
  username: string;
  avatar_url: string | null;
  bio: string | null;
}

const SELECT = `SELECT n.id, n.recipient_id, n.type, n.actor_id, n.video_id, n.comment_id, n.once_key, n.content,
  n.is_read, n.create_time, n.event_id, a.username, a.avatar_url, a.bio
  FROM notifications n JOIN accounts a ON a.id = n.actor_id`;

const COLUMNS =
  'recipient_id, type, actor_id, video_id, comment_id, once_key, content, is_read, event_id, create_time';

/** Keys per statement when rows are looked up by their unique key (an OR of equalities). */
const KEYS_PER_QUERY = 100;

const toRow = (r: RawRow): NotificationRow => ({
  id: Number(r.id),
  recipientId: Number(r.recipient_id),
  type: r.type as NotificationType,
  actor: { id: Number(r.actor_id), username: r.username, avatar_url: r.avatar_url ?? '', bio: r.bio ?? '' },
  videoId: Number(r.video_id),
  commentId: Number(r.comment_id),
  content: r.content,
  isRead: Number(r.is_read) === 1 || r.is_read === true,
  createTime: Number(r.create_time),
  eventId: r.event_id,
});

const onceKeyOf = (n: NewNotification): string =>
  `${n.recipientId}:${n.actorId}:${n.type}:${n.videoId}:${n.onceKey}`;

/**
 * The `notifications` rows. Reads go to the primary: a notification a stream has just pushed must
 * be in the list the client then fetches. Writes take the caller's transaction.
 */
@Injectable()
export class NotificationRepository {
  constructor(readonly db: Database) {}

  /** Newest first (ix_notifications_recipient, backward). */
  async list(recipientId: number, idBefore: number | undefined, take: number): Promise<NotificationRow[]> {
    const rows = await this.db.query<RawRow>(
      `${SELECT} WHERE n.recipient_id = ?${idBefore ? ' AND n.id < ?' : ''} ORDER BY n.id DESC LIMIT ?`,
      [recipientId, ...(idBefore ? [idBefore] : []), take],
    );
    return rows.map(toRow);
  }

  /** The newest `take` with an id above `afterId`, oldest first (a stream's `Last-Event-ID` replay). */
  async since(recipientId: number, afterId: number, take: number): Promise<NotificationRow[]> {
    const rows = await this.db.query<RawRow>(
      `${SELECT} WHERE n.recipient_id = ? AND n.id > ? ORDER BY n.id DESC LIMIT ?`,
      [recipientId, afterId, take],
    );
    return rows.map(toRow).reverse();
  }

  /**
   * Rows above each recipient's own id, oldest first, at most `take` (streams catching up while
   * the pub/sub between processes is down): one range of ix_notifications_recipient each.
   */
  async sinceMany(after: Map<number, number>, take: number): Promise<NotificationRow[]> {
    if (after.size === 0) return [];
    const ranges = [...after].map(() => '(n.recipient_id = ? AND n.id > ?)').join(' OR ');
    const rows = await this.db.query<RawRow>(`${SELECT} WHERE ${ranges} ORDER BY n.id LIMIT ?`, [
      ...[...after].flat(),
      take,
    ]);
    return rows.map(toRow);
  }

  /** The highest id the recipient has (0 for none). */
  async lastId(recipientId: number): Promise<number> {
    const rows = await this.db.query<{ id: number | string | null }>(
      'SELECT MAX(id) AS id FROM notifications WHERE recipient_id = ?',
      [recipientId],
    );
    return Number(rows[0]?.id ?? 0);
  }

  async unreadCount(recipientId: number): Promise<number> {
    const rows = await this.db.query<{ n: number | string }>(
      'SELECT COUNT(*) AS n FROM notifications WHERE recipient_id = ? AND is_read = 0',
      [recipientId],
    );
    return Number(rows[0]?.n ?? 0);
  }

  async recipientOf(id: number): Promise<number | null> {
    const rows = await this.db.query<{ recipient_id: number | string }>(
      'SELECT recipient_id FROM notifications WHERE id = ?',
      [id],
    );
    return rows.length > 0 ? Number(rows[0].recipient_id) : null;
  }

  async markRead(recipientId: number, id: number): Promise<void> {
    await this.db.execute('UPDATE notifications SET is_read = 1 WHERE id = ? AND recipient_id = ?', [
      id,
      recipientId,
    ]);
  }

  async markAllRead(recipientId: number): Promise<void> {
    await this.db.execute('UPDATE notifications SET is_read = 1 WHERE recipient_id = ? AND is_read = 0', [
      recipientId,
    ]);
  }

  /** The current access-token digest of each account (`accounts.token`; null when revoked). */
  async tokenDigests(accountIds: number[]): Promise<Map<number, string | null>> {
    const out = new Map<number, string | null>();
    if (accountIds.length === 0) return out;
    const rows = await this.db.query<{ id: number | string; token: string | null }>(
      `SELECT id, token FROM accounts WHERE id IN (${placeholders(accountIds.length)})`,
      accountIds,
    );
    for (const r of rows) out.set(Number(r.id), r.token ?? null);
    return out;
  }

  /**
   * The notifications `sources` create, from the state `manager` sees (three reads for any number
   * of events: the videos' authors, the comments, the mentioned accounts). Nobody is notified of
   * their own action; a video or comment that is gone by now notifies nobody; a comment's video
   * author gets `comment` and is not also sent `mention` for it.
   */
  async resolve(manager: EntityManager, sources: NotificationSource[]): Promise<NewNotification[]> {
    if (sources.length === 0) return [];
    const videoIds = new Set<number>();
    const commentIds = new Set<number>();
    for (const s of sources) {
      if (s.kind !== 'follow') videoIds.add(s.videoId);
      if (s.kind === 'comment') commentIds.add(s.commentId);
    }
    const authors = await this.videoAuthors(manager, [...videoIds]);
    const comments = await this.comments(manager, [...commentIds]);
    const mentions = new Map<number, string[][]>();
    for (const [id, c] of comments) mentions.set(id, parseMentions(c.content));
    const named = await this.accountsByKey(manager, [...mentions.values()].flat(2));

    const out: NewNotification[] = [];
    const add = (n: Omit<NewNotification, 'createTime' | 'eventId'>, s: NotificationSource): void => {
      if (n.recipientId !== n.actorId) out.push({ ...n, eventId: s.eventId, createTime: s.ts });
    };
    for (const s of sources) {
      if (s.kind === 'follow') {
        add(
          {
            recipientId: s.targetId,
            type: 'follow',
            actorId: s.actorId,
            videoId: 0,
            commentId: 0,
            onceKey: 0,
            content: '',
          },
          s,
        );
        continue;
      }
      const author = authors.get(s.videoId);
      if (author === undefined) continue;
      if (s.kind === 'like') {
        add(
          {
            recipientId: author,
            type: 'like',
            actorId: s.actorId,
            videoId: s.videoId,
            commentId: 0,
            onceKey: 0,
            content: '',
          },
          s,
        );
        continue;
      }
      const comment = comments.get(s.commentId);
      if (!comment || comment.videoId !== s.videoId) continue;
      const content = excerpt(comment.content);
      const base = { actorId: s.actorId, videoId: s.videoId, commentId: s.commentId, content };
      add({ ...base, recipientId: author, type: 'comment', onceKey: s.commentId }, s);
      // At most MAX_MENTIONS_PER_COMMENT accounts, counting only those sent a `mention`: an
      // unknown name, the video's author (sent `comment`) and the commenter do not use up the limit.
      const notified = new Set<number>([author, s.actorId]);
      let mentioned = 0;
      for (const keys of mentions.get(s.commentId) ?? []) {
        if (mentioned === MAX_MENTIONS_PER_COMMENT) break;
        const who = keys.map((k) => named.get(k)).find((id) => id !== undefined);
        if (who === undefined || notified.has(who)) continue;
        notified.add(who);
        add({ ...base, recipientId: who, type: 'mention', onceKey: 0 }, s);
        mentioned++;
      }
    }
    return out;
  }

  /**
   * One multi-row `INSERT IGNORE` (a row whose once-per-(actor, target) key exists is skipped),
   * rows in key order so concurrent batches meet the unique index in one order.
   */
  async insertIgnore(manager: EntityManager, rows: NewNotification[]): Promise<void> {
    if (rows.length === 0) return;
    const keyed = rows.map((n) => ({ n, key: onceKeyOf(n) }));
    keyed.sort((a, b) =>
      a.n.recipientId !== b.n.recipientId
        ? a.n.recipientId - b.n.recipientId
        : a.key < b.key
          ? -1
          : a.key > b.key
            ? 1
            : 0,
    );
    const sorted = keyed.map((k) => k.n);
    const verb = this.db.dialect === 'mysql' ? 'INSERT IGNORE' : 'INSERT OR IGNORE';
    await manager.query(
      `${verb} INTO notifications (${COLUMNS}) VALUES ${sorted.map(() => '(?, ?, ?, ?, ?, ?, ?, 0, ?, ?)').join(', ')}`,
      sorted.flatMap((n) => [
        n.recipientId,
        n.type,
        n.actorId,
        n.videoId,
        n.commentId,
        n.onceKey,
        n.content,
        n.eventId,
        n.createTime,
      ]),
    );
  }

  /**
   * The stored rows that `rows` created: looked up by their unique keys, kept only where the row's
   * `event_id` is the one that was to insert it (a row that already existed is not new).
   */
  async findCreated(rows: NewNotification[]): Promise<NotificationRow[]> {
    const wanted = new Map<string, Set<string>>();
    for (const n of rows) {
      const k = onceKeyOf(n);
      wanted.set(k, (wanted.get(k) ?? new Set<string>()).add(n.eventId));
    }
    const keys = [...new Map(rows.map((n) => [onceKeyOf(n), n])).values()];
    const out: NotificationRow[] = [];
    for (let i = 0; i < keys.length; i += KEYS_PER_QUERY) {
      const chunk = keys.slice(i, i + KEYS_PER_QUERY);
      const where = chunk
        .map(
          () =>
            '(n.recipient_id = ? AND n.actor_id = ? AND n.type = ? AND n.video_id = ? AND n.once_key = ?)',
        )
        .join(' OR ');
      const found = await this.db.query<RawRow>(
        `${SELECT} WHERE ${where}`,
        chunk.flatMap((n) => [n.recipientId, n.actorId, n.type, n.videoId, n.onceKey]),
      );
      for (const r of found) {
        const row = toRow(r);
        const key = `${row.recipientId}:${row.actor.id}:${row.type}:${row.videoId}:${Number(r.once_key)}`;
        if (wanted.get(key)?.has(row.eventId)) out.push(row);
      }
    }
    return out.sort((a, b) => a.id - b.id);
  }

  /** A deleted comment's `comment` and `mention` notifications go with it. */
  async deleteForComments(
    manager: EntityManager,
    comments: { videoId: number; commentId: number }[],
  ): Promise<void> {
    if (comments.length === 0) return;
    await manager.query(
      `DELETE FROM notifications WHERE ${comments.map(() => '(video_id = ? AND comment_id = ?)').join(' OR ')}`,
      comments.flatMap((c) => [c.videoId, c.commentId]),
    );
  }

  /** Inside the transaction that deletes a video: its notifications go with it. */
  async deleteByVideo(manager: EntityManager, videoId: number): Promise<void> {
    await manager.query('DELETE FROM notifications WHERE video_id = ?', [videoId]);
  }

  /** Each video's author: as the transaction already read it with the row locked, else one select. */
  private async videoAuthors(manager: EntityManager, ids: number[]): Promise<Map<number, number>> {
    const out = new Map<number, number>();
    const unknown: number[] = [];
    for (const id of ids) {
      const author = lockedVideoAuthors.get(manager, id);
      if (author === undefined) unknown.push(id);
      else out.set(id, author);
    }
    if (unknown.length === 0) return out;
    const rows = await manager.query<{ id: number | string; author_id: number | string }[]>(
      `SELECT id, author_id FROM videos WHERE id IN (${placeholders(unknown.length)})`,
      unknown,
    );
    for (const r of rows) out.set(Number(r.id), Number(r.author_id));
    return out;
  }

  private async comments(
    manager: EntityManager,
    ids: number[],
  ): Promise<Map<number, { videoId: number; content: string }>> {
    const out = new Map<number, { videoId: number; content: string }>();
    if (ids.length === 0) return out;
    const rows = await manager.query<{ id: number | string; video_id: number | string; content: string }[]>(
      `SELECT id, video_id, content FROM comments WHERE id IN (${placeholders(ids.length)})`,
      ids,
    );
    for (const r of rows) out.set(Number(r.id), { videoId: Number(r.video_id), content: r.content });
    return out;
  }

  /** `accounts.username_key` → id, for the keys that name an account. */
  private async accountsByKey(manager: EntityManager, keys: string[]): Promise<Map<string, number>> {
    const out = new Map<string, number>();
    const distinct = [...new Set(keys)];
    if (distinct.length === 0) return out;
    const rows = await manager.query<{ id: number | string; username_key: string }[]>(
      `SELECT id, username_key FROM accounts WHERE username_key IN (${placeholders(distinct.length)})`,
      distinct,
    );
    // MySQL's collation may match variants; the key must match exactly (as AccountService does).
    for (const r of rows) if (distinct.includes(r.username_key)) out.set(r.username_key, Number(r.id));
    return out;
  }
}
