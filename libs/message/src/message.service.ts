import { Injectable } from '@nestjs/common';
import { Database, IdempotencyService, nowMs } from '@app/core';
import { MessageErrors } from './message.errors';
import { MessageRepository } from './message.repository';
import { ConversationPage, MessagePage, MessageView, toMessageView } from './message.view';

export const MESSAGE_SEND_ROUTE = 'message/send';

/** Direct messages (SPEC §8.2). Not events: nothing is derived from a message outside this domain. */
@Injectable()
export class MessageService {
  constructor(
    private readonly db: Database,
    private readonly messages: MessageRepository,
    private readonly idempotency: IdempotencyService,
  ) {}

  /**
   * `content` already trimmed, 1–2000 characters. 400 to oneself, 404 unknown recipient. One
   * transaction: both conversation rows (locked first; created beforehand on a pair's first message),
   * the message, the recipient's unread count.
   */
  async send(fromId: number, toId: number, content: string, idempotencyKey?: string): Promise<MessageView> {
    if (fromId === toId) throw MessageErrors.toSelf('to_id');
    const scope = idempotencyKey
      ? { accountId: fromId, route: MESSAGE_SEND_ROUTE, key: idempotencyKey }
      : null;
    return this.idempotency.once<MessageView>(scope, async (save) => {
      // Accounts are never deleted: checked once, outside the transaction.
      if (!(await this.messages.accountExists(toId))) throw MessageErrors.accountNotFound();
      const attempt = (): Promise<MessageView | null> =>
        this.db.transaction(async (manager) => {
          if (!(await this.messages.lockPair(manager, fromId, toId))) return null;
          const ts = nowMs();
          const id = await this.messages.insert(manager, fromId, toId, content, ts);
          await this.messages.recordSend(manager, fromId, toId, id);
          const view = toMessageView({ id, fromId, toId, content, createTime: ts }, 0);
          await save(manager, view);
          return view;
        });
      const first = await attempt();
      if (first) return first;
      // The pair's first message: its conversation rows are created outside the transaction.
      await this.messages.createPair(fromId, toId);
      const view = await attempt();
      if (!view) throw new Error(`conversation rows of ${fromId} and ${toId} missing after creation`);
      return view;
    });
  }

  /** Both directions, newest first, paged by id. 400 oneself, 404 unknown peer. */
  async list(me: number, peerId: number, idBefore: number | undefined, limit: number): Promise<MessagePage> {
    await this.assertPeer(me, peerId);
    const [rows, [mine, theirs]] = await Promise.all([
      this.messages.listPair(me, peerId, idBefore, limit + 1),
      this.messages.watermarks(me, peerId),
    ]);
    const page = rows.slice(0, limit);
    return {
      messages: page.map((m) => toMessageView(m, m.toId === me ? mine : theirs)),
      next_id_before: page.length > 0 ? page[page.length - 1].id : (idBefore ?? 0),
      has_more: rows.length > limit,
    };
  }

  /** Newest last message first, paged by that message's id, with unread counts. */
  async conversations(me: number, idBefore: number | undefined, limit: number): Promise<ConversationPage> {
    const rows = await this.messages.listConversations(me, idBefore, limit + 1);
    const page = rows.slice(0, limit);
    return {
      conversations: page.map((c) => ({
        peer: c.peer,
        last_message: toMessageView(
          c.lastMessage,
          c.lastMessage.toId === me ? c.lastReadId : c.peerLastReadId,
        ),
        unread_count: c.unreadCount,
      })),
      next_id_before: page.length > 0 ? page[page.length - 1].lastMessage.id : (idBefore ?? 0),
      has_more: rows.length > limit,
    };
  }

  /** Every message from `peerId` to `me` so far is read. 400 oneself, 404 unknown peer. */
  async markRead(me: number, peerId: number): Promise<void> {
    await this.assertPeer(me, peerId);
    await this.messages.markRead(me, peerId);
  }

  private async assertPeer(me: number, peerId: number): Promise<void> {
    if (me === peerId) throw MessageErrors.toSelf('peer_id');
    if (!(await this.messages.accountExists(peerId))) throw MessageErrors.accountNotFound();
  }
}
