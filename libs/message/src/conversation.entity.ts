import { Column, Entity, Index, PrimaryColumn } from 'typeorm';

/**
 * One row per (owner, peer) with at least one message between them, both rows written in the
 * transaction of every send. The conversations list is a backward range of
 * `ix_conversations_owner_last`; the unread count is kept here rather than counted.
 *
 * Read state is a watermark: a message to the owner is read when its id ≤ `last_read_id`.
 * markRead marks every message so far (SPEC §8.2), so this is exact, provided that the messages
 * of one pair get their ids in commit order: a send locks both rows before it inserts its message,
 * and markRead locks the owner's row.
 */
@Entity('conversations')
@Index('ix_conversations_owner_last', ['ownerId', 'lastMessageId'])
export class ConversationEntity {
  @PrimaryColumn({ name: 'owner_id', type: 'int' })
  ownerId!: number;

  @PrimaryColumn({ name: 'peer_id', type: 'int' })
  peerId!: number;

  /** The newest message between the two, either direction (the list's order and cursor). */
  @Column({ name: 'last_message_id', type: 'int', default: 0 })
  lastMessageId!: number;

  /** Messages from the peer with an id up to this one have been read by the owner. */
  @Column({ name: 'last_read_id', type: 'int', default: 0 })
  lastReadId!: number;

  /** Messages from the peer above `last_read_id`. */
  @Column({ name: 'unread_count', type: 'int', default: 0 })
  unreadCount!: number;
}
