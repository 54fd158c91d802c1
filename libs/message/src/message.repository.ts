import { Injectable } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import type { AccountView } from '@app/account';
import { Database } from '@app/core';
import { MessageEntity } from './message.entity';
import type { MessageRow } from './message.view';

interface RawMessage {
  id: number | string;
  from_id: number | string;
  to_id: number | string;
  content: string;
  create_time: number | string;
}

export interface ConversationRow {
  peer: AccountView;
  lastMessage: MessageRow;
  unreadCount: number;
  /** The owner's read watermark (messages from the peer). */
  lastReadId: number;
  /** The peer's read watermark (messages from the owner). */
  peerLastReadId: number;
}

/** Both conversation rows of a pair, empty: `[lo, hi, hi, lo]`. */
const PAIR_ROWS =
  '(owner_id, peer_id, last_message_id, last_read_id, unread_count) VALUES (?, ?, 0, 0, 0), (?, ?, 0, 0, 0)';

const toRow = (r: RawMessage): MessageRow => ({
  id: Number(r.id),
  fromId: Number(r.from_id),
  toId: Number(r.to_id),
  content: r.content,
  createTime: Number(r.create_time),
});

/**
 * The `messages` and `conversations` rows. Reads are raw SQL; writes take the caller's manager.
 * Keyset conditions are on ids only (`id < ?`), each served by one backward index range.
 */
@Injectable()
export class MessageRepository {
  constructor(private readonly db: Database) {}

  async accountExists(id: number): Promise<boolean> {
    return (await this.db.query('SELECT id FROM accounts WHERE id = ?', [id])).length > 0;
  }

  /**
   * Locks the pair's two conversation rows, in owner order, before a message is inserted: sends
   * and markReads of one pair then run one at a time, so the pair's message ids are allocated in
   * commit order (what the read watermark relies on). `false` when the rows do not exist yet: the
   * caller leaves its transaction, runs {@link createPair} and tries again. Creating them here
   * instead (an upsert inside the transaction) deadlocks under concurrent first messages: each
   * waiter on the new row holds a shared lock and then needs an exclusive one. On SQLite the rows
   * are created here (its transactions run one at a time) and this is always `true`.
   */
  async lockPair(manager: EntityManager, a: number, b: number): Promise<boolean> {
    const [lo, hi] = a < b ? [a, b] : [b, a];
    if (this.db.dialect === 'sqlite') {
      await manager.query(`INSERT OR IGNORE INTO conversations ${PAIR_ROWS}`, [lo, hi, hi, lo]);
      return true;
    }
    const rows = await manager.query<unknown[]>(
      `SELECT owner_id FROM conversations${this.byPrimaryKey()} WHERE (owner_id = ? AND peer_id = ?) OR (owner_id = ? AND peer_id = ?) ORDER BY owner_id FOR UPDATE`,
      [lo, hi, hi, lo],
    );
    return rows.length === 2;
  }

  /**
   * The pair's two conversation rows, if missing, in a statement of their own (autocommit, before
   * any lock of the sender's transaction). `INSERT IGNORE`, not an upsert: a duplicate then only
   * waits for a shared lock and never asks for an exclusive one, so concurrent creators cannot
   * deadlock.
   */
  async createPair(a: number, b: number): Promise<void> {
    const [lo, hi] = a < b ? [a, b] : [b, a];
    const verb = this.db.dialect === 'mysql' ? 'INSERT IGNORE' : 'INSERT OR IGNORE';
    await this.db.execute(`${verb} INTO conversations ${PAIR_ROWS}`, [lo, hi, hi, lo]);
  }

  async insert(
    manager: EntityManager,
    fromId: number,
    toId: number,
    content: string,
    ts: number,
  ): Promise<number> {
    const result = await manager.insert(MessageEntity, {
      fromId,
      toId,
      pairLowId: Math.min(fromId, toId),
      pairHighId: Math.max(fromId, toId),
      content,
      createTime: ts,
    });
    return Number((result.identifiers[0] as { id: number }).id);
  }

  /** Both rows now end with `messageId`; the recipient has one more unread (by primary key, as locked). */
  async recordSend(manager: EntityManager, fromId: number, toId: number, messageId: number): Promise<void> {
    await manager.query(
      `UPDATE conversations${this.byPrimaryKey()} SET last_message_id = ?, unread_count = unread_count + CASE WHEN owner_id = ? THEN 1 ELSE 0 END
       WHERE (owner_id = ? AND peer_id = ?) OR (owner_id = ? AND peer_id = ?)`,
      [messageId, toId, fromId, toId, toId, fromId],
    );
  }

  /** Everything the peer has sent the owner so far is read (one locked row, one statement). */
  async markRead(ownerId: number, peerId: number): Promise<void> {
    await this.db.execute(
      `UPDATE conversations${this.byPrimaryKey()} SET last_read_id = last_message_id, unread_count = 0 WHERE owner_id = ? AND peer_id = ?`,
      [ownerId, peerId],
    );
  }

  /** The read watermarks of the pair: `[a's, b's]` (0 before any message). */
  async watermarks(a: number, b: number): Promise<[number, number]> {
    const rows = await this.db.query<{ owner_id: number | string; last_read_id: number | string }>(
      'SELECT owner_id, last_read_id FROM conversations WHERE (owner_id = ? AND peer_id = ?) OR (owner_id = ? AND peer_id = ?)',
      [a, b, b, a],
    );
    const of = (id: number): number => Number(rows.find((r) => Number(r.owner_id) === id)?.last_read_id ?? 0);
    return [of(a), of(b)];
  }

  /** Both directions, newest first: ix_messages_pair, backward range. */
  async listPair(a: number, b: number, idBefore: number | undefined, take: number): Promise<MessageRow[]> {
    const rows = await this.db.query<RawMessage>(
      `SELECT id, from_id, to_id, content, create_time FROM messages
       WHERE pair_low_id = ? AND pair_high_id = ?${idBefore ? ' AND id < ?' : ''} ORDER BY id DESC LIMIT ?`,
      [Math.min(a, b), Math.max(a, b), ...(idBefore ? [idBefore] : []), take],
    );
    return rows.map(toRow);
  }

  /**
   * The owner's conversations, newest last message first: ix_conversations_owner_last backward,
   * then the last message, the peer's account and the peer's row, each by primary key.
   */
  async listConversations(
    ownerId: number,
    idBefore: number | undefined,
    take: number,
  ): Promise<ConversationRow[]> {
    const rows = await this.db.query<
      RawMessage & {
        unread_count: number | string;
        last_read_id: number | string;
        peer_read_id: number | string | null;
        peer_id: number | string;
        username: string;
        avatar_url: string;
        bio: string;
      }
    >(
      `SELECT c.peer_id, c.unread_count, c.last_read_id, p.last_read_id AS peer_read_id,
              m.id, m.from_id, m.to_id, m.content, m.create_time, a.username, a.avatar_url, a.bio
       FROM conversations c
       JOIN messages m ON m.id = c.last_message_id
       JOIN accounts a ON a.id = c.peer_id
       LEFT JOIN conversations p ON p.owner_id = c.peer_id AND p.peer_id = c.owner_id
       WHERE c.owner_id = ?${idBefore ? ' AND c.last_message_id < ?' : ''}
       ORDER BY c.last_message_id DESC LIMIT ?`,
      [ownerId, ...(idBefore ? [idBefore] : []), take],
    );
    return rows.map((r) => ({
      peer: { id: Number(r.peer_id), username: r.username, avatar_url: r.avatar_url ?? '', bio: r.bio ?? '' },
      lastMessage: toRow(r),
      unreadCount: Number(r.unread_count),
      lastReadId: Number(r.last_read_id),
      peerLastReadId: Number(r.peer_read_id ?? 0),
    }));
  }

  /**
   * Every locking statement on `conversations` goes by its primary key. Left to itself, the
   * optimizer sometimes reads the `(owner_id, last_message_id)` index instead (it holds the
   * selected column, and a busy pair leaves many delete-marked entries there) and locks the
   * owner's entries in it before the row, the reverse of a send's order: concurrent sends and
   * markReads of one pair then deadlocked.
   */
  private byPrimaryKey(): string {
    return this.db.dialect === 'mysql' ? ' FORCE INDEX (PRIMARY)' : '';
  }
}
