import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { NOTIFICATION_TYPES } from '@app/notification';
import { AccountResponse } from '../../account/dto/account.dto';
import { IsCursor, IsEntityId, IsLimit } from '../../http/validators';

export class ListNotificationsDto {
  @ApiPropertyOptional({
    minimum: 0,
    maximum: 200,
    default: 50,
    description: '0 or absent = 50; above 200 = 200',
  })
  @IsLimit()
  limit?: number;

  @ApiPropertyOptional({
    minimum: 0,
    description: 'next_id_before of the previous page; 0 or absent = newest',
  })
  @IsCursor()
  id_before?: number;
}

export class MarkReadDto {
  @ApiPropertyOptional({
    type: Number,
    nullable: true,
    minimum: 1,
    description: 'one of your notifications; absent (or null) = all of them (an empty body is allowed)',
  })
  @IsEntityId({ optional: true })
  id?: number | null;
}

export class NotificationResponse {
  @ApiProperty() id!: number;
  @ApiProperty({ enum: NOTIFICATION_TYPES }) type!: (typeof NOTIFICATION_TYPES)[number];
  @ApiProperty({ type: AccountResponse, description: 'who liked, commented, followed or mentioned' })
  actor!: AccountResponse;
  @ApiProperty({ description: '0 for follow' }) video_id!: number;
  @ApiProperty({ description: 'the comment of a comment or mention, else 0' }) comment_id!: number;
  @ApiProperty({ description: 'the comment\'s first 100 characters for comment and mention, else ""' })
  content!: string;
  @ApiProperty() is_read!: boolean;
  @ApiProperty({ example: '2026-01-01T00:00:00.000Z' }) created_at!: string;
}

export class NotificationPageResponse {
  @ApiProperty({ type: [NotificationResponse], description: 'newest first' })
  notifications!: NotificationResponse[];
  @ApiProperty({ description: 'id of the last notification: send back as id_before' })
  next_id_before!: number;
  @ApiProperty() has_more!: boolean;
}

export class UnreadCountResponse {
  @ApiProperty({ description: 'your notifications not yet marked read' }) count!: number;
}
