import { AccountEntity } from '@app/account';
import { CommentEntity } from '@app/comment';
import { IdempotencyKeyEntity, LeaseEntity } from '@app/core';
import { OutboxEntity, ProcessedEventEntity } from '@app/events';
import { LikeEntity } from '@app/like';
import { ConversationEntity, MessageEntity } from '@app/message';
import { NotificationEntity } from '@app/notification';
import { SocialEntity } from '@app/social';
import { FileDeletionEntity, UploadEntity, UploadPartEntity, UploadSessionEntity } from '@app/storage';
import { TagEntity, VideoEntity, VideoTagEntity } from '@app/video';

/** Every table of the system. Both apps and the migration tooling load exactly this list. */
export const ENTITIES = [
  AccountEntity,
  VideoEntity,
  LikeEntity,
  CommentEntity,
  SocialEntity,
  OutboxEntity,
  ProcessedEventEntity,
  IdempotencyKeyEntity,
  LeaseEntity,
  UploadEntity,
  UploadSessionEntity,
  UploadPartEntity,
  FileDeletionEntity,
  TagEntity,
  VideoTagEntity,
  MessageEntity,
  ConversationEntity,
  NotificationEntity,
];
