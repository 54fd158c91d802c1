import { ApiProperty } from '@nestjs/swagger';

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
