import type { AccountView } from '@app/account';
import { toIso } from '@app/core';

/** `Message` of SPEC §8.2. */
export interface MessageView {
  id: number;
  from_id: number;
  to_id: number;
  content: string;
  is_read: boolean;
  created_at: string;
}

export interface MessagePage {
  messages: MessageView[];
  next_id_before: number;
  has_more: boolean;
}

export interface ConversationView {
  peer: AccountView;
  last_message: MessageView;
  unread_count: number;
}

export interface ConversationPage {
  conversations: ConversationView[];
  next_id_before: number;
  has_more: boolean;
}

export interface MessageRow {
  id: number;
  fromId: number;
  toId: number;
  content: string;
  createTime: number;
}

/** `readUpTo`: the recipient's read watermark (its conversation row's `last_read_id`). */
export function toMessageView(m: MessageRow, readUpTo: number): MessageView {
  return {
    id: m.id,
    from_id: m.fromId,
    to_id: m.toId,
    content: m.content,
    is_read: m.id <= readUpTo,
    created_at: toIso(m.createTime),
  };
}
