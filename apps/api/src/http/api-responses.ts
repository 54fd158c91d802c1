import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { ErrorCode } from '@app/core';
import { REQUEST_TIMEOUT } from './http-errors';

/** Response shapes for the OpenAPI description (the wire format of SPEC §3). */
export class MessageResponse {
  @ApiProperty({ example: 'ok' })
  message!: string;
}

export class VideoResponse {
  @ApiProperty() id!: number;
  @ApiProperty() author_id!: number;
  @ApiProperty() username!: string;
  @ApiProperty() title!: string;
  @ApiProperty() description!: string;
  @ApiProperty() play_url!: string;
  @ApiProperty() cover_url!: string;
  @ApiProperty({ example: '2026-01-01T00:00:00.000Z' }) create_time!: string;
  @ApiProperty() likes_count!: number;
  @ApiProperty() comments_count!: number;
  @ApiProperty() popularity!: number;
  @ApiProperty({ type: [String], example: ['travel'] }) tags!: string[];
}

export class LikedVideoResponse extends VideoResponse {
  @ApiProperty({ description: 'cursor: pass the last one back as id_before' }) like_id!: number;
}

export class CommentResponse {
  @ApiProperty() id!: number;
  @ApiProperty() video_id!: number;
  @ApiProperty() author_id!: number;
  @ApiProperty() username!: string;
  @ApiProperty() content!: string;
  @ApiProperty({ example: '2026-01-01T00:00:00.000Z' }) created_at!: string;
}

export class FollowAccountResponse {
  @ApiProperty() id!: number;
  @ApiProperty() username!: string;
  @ApiProperty() avatar_url!: string;
  @ApiProperty() bio!: string;
  @ApiProperty({ description: 'cursor: pass the last one back as id_before' }) follow_id!: number;
}

export class FollowersResponse {
  @ApiProperty({ type: [FollowAccountResponse] }) followers!: FollowAccountResponse[];
  @ApiProperty() follower_count!: number;
}

export class VloggersResponse {
  @ApiProperty({ type: [FollowAccountResponse] }) vloggers!: FollowAccountResponse[];
  @ApiProperty() vlogger_count!: number;
}

export class CountsResponse {
  @ApiProperty() follower_count!: number;
  @ApiProperty() vlogger_count!: number;
}

export class IsLikedResponse {
  @ApiProperty() is_liked!: boolean;
}

export class ErrorDetailResponse {
  @ApiProperty({ example: 'title' }) field!: string;
  @ApiProperty({ example: 'title must be 1–255 characters' }) message!: string;
}

/** SPEC §1: the body of every error answer. */
export class ErrorResponse {
  @ApiProperty({ description: 'the specific reason, for people', example: 'video not found' })
  error!: string;
  @ApiProperty({
    enum: [...Object.values(ErrorCode), REQUEST_TIMEOUT],
    enumName: 'ErrorCode',
    example: ErrorCode.NotFound,
  })
  code!: ErrorCode | typeof REQUEST_TIMEOUT;
  @ApiPropertyOptional({
    type: [ErrorDetailResponse],
    description: 'with VALIDATION_FAILED only: each bad field ([] for malformed JSON)',
  })
  details?: ErrorDetailResponse[];
}
