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
   * Creates the pair's two conversation rows if needed and locks both (MySQL: the upsert takes an
   * exclusive lock on each row, new or existing), in owner order, before the message is inserted:
   * sends and markReads of one pair then run one at a time, so the pair's message ids are
   * allocated in commit order (what the read watermark relies on).
   */
  async lockPair(manager: EntityManager, a: number, b: number): Promise<void> {
    const [lo, hi] = a < b ? [a, b] : [b, a];
    const values = '(?, ?, 0, 0, 0), (?, ?, 0, 0, 0)';
    const sql =
      this.db.dialect === 'sqlite'
        ? `INSERT OR IGNORE INTO conversations (owner_id, peer_id, last_message_id, last_read_id, unread_count) VALUES ${values}`
        : `INSERT INTO conversations (owner_id, peer_id, last_message_id, last_read_id, unread_count) VALUES ${values} ON DUPLICATE KEY UPDATE unread_count = unread_count`;
    await manager.query(sql, [lo, hi, hi, lo]);
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

  /** Both rows now end with `messageId`; the recipient has one more unread. */
  async recordSend(manager: EntityManager, fromId: number, toId: number, messageId: number): Promise<void> {
    await manager.query(
      `UPDATE conversations SET last_message_id = ?, unread_count = unread_count + CASE WHEN owner_id = ? THEN 1 ELSE 0 END
       WHERE (owner_id = ? AND peer_id = ?) OR (owner_id = ? AND peer_id = ?)`,
      [messageId, toId, fromId, toId, toId, fromId],
    );
  }

  /** Everything the peer has sent the owner so far is read (one locked row, one statement). */
  async markRead(ownerId: number, peerId: number): Promise<void> {
    await this.db.execute(
      'UPDATE conversations SET last_read_id = last_message_id, unread_count = 0 WHERE owner_id = ? AND peer_id = ?',
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
}
