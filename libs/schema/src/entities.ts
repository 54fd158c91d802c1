import { AccountEntity } from '@app/account';
import { CommentEntity } from '@app/comment';
import { IdempotencyKeyEntity } from '@app/core';
import { OutboxEntity, ProcessedEventEntity } from '@app/events';
import { LikeEntity } from '@app/like';
import { SocialEntity } from '@app/social';
import { UploadEntity } from '@app/storage';
import { VideoEntity } from '@app/video';

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
  UploadEntity,
];
