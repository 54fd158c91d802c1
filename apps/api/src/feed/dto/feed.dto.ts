import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { ValidateBy, ValidationArguments } from 'class-validator';
import { normalizeTagName } from '@app/video';
import { IsCursor, IsLimit, IsText } from '../../http/validators';

const PAIR_MESSAGE = 'likes_count_before and id_before must be sent together';

interface LikesCursor {
  likes_count_before?: number | null;
  id_before?: number | null;
}

/** `likes_count_before` and `id_before` together or neither (both 0 = first page). */
function PairedLikesCursor(): PropertyDecorator {
  return ValidateBy({
    name: 'pairedLikesCursor',
    validator: {
      validate: (_v: unknown, args?: ValidationArguments) => {
        const o = (args?.object ?? {}) as LikesCursor;
        const hasCount = o.likes_count_before !== undefined && o.likes_count_before !== null;
        const hasId = typeof o.id_before === 'number' && o.id_before > 0;
        if (hasId) return hasCount;
        return !hasCount || o.likes_count_before === 0;
      },
      defaultMessage: () => PAIR_MESSAGE,
    },
  });
}

export class ListLatestDto {
  @ApiPropertyOptional({ example: 10, description: 'page size: absent/0 = 10, max 50 (clamped)' })
  @IsLimit()
  limit?: number;

  @ApiPropertyOptional({
    example: 0,
    description: 'unix ms cursor (next_time of the previous page); 0/absent = newest',
  })
  @IsCursor()
  latest_time?: number;

  @ApiPropertyOptional({
    example: 0,
    description: 'with latest_time: the exact (create_time, id) cursor (next_id_before)',
  })
  @IsCursor()
  id_before?: number;
}

export class ListByFollowingDto extends ListLatestDto {}

/** Something is left once the `#` is dropped (checked with the body, before authentication). */
function NamesATag(): PropertyDecorator {
  return ValidateBy({
    name: 'namesATag',
    validator: {
      validate: (v: unknown) => typeof v === 'string' && normalizeTagName(v) !== '',
      defaultMessage: () => 'tag_name must name a tag',
    },
  });
}

export class ListByTagDto extends ListLatestDto {
  @ApiProperty({
    example: '#travel',
    minLength: 1,
    maxLength: 200,
    description: 'with or without the #; matched after NFKC + lower case; an unknown tag is an empty page',
  })
  @NamesATag()
  @IsText(1, 200)
  tag_name!: string;
}

export class ListLikesCountDto {
  @ApiPropertyOptional({ example: 10, description: 'page size: absent/0 = 10, max 50 (clamped)' })
  @IsLimit()
  limit?: number;

  @ApiPropertyOptional({ example: 0, description: 'next_likes_count_before of the previous page' })
  @IsCursor()
  @PairedLikesCursor()
  likes_count_before?: number;

  @ApiPropertyOptional({ example: 0, description: 'next_id_before of the previous page' })
  @IsCursor()
  @PairedLikesCursor()
  id_before?: number;
}

export class ListByPopularityDto {
  @ApiPropertyOptional({ example: 10, description: 'page size: absent/0 = 10, max 50 (clamped)' })
  @IsLimit()
  limit?: number;

  @ApiPropertyOptional({
    example: 0,
    description: 'unix s of the snapshot minute from the first page; 0/absent = now',
  })
  @IsCursor()
  as_of?: number;

  @ApiPropertyOptional({ example: 0, description: 'next_offset of the previous page' })
  @IsCursor()
  offset?: number;
}

class FeedAuthorResponse {
  @ApiProperty({ example: 1 }) id!: number;
  @ApiProperty({ example: 'alice' }) username!: string;
}

export class FeedVideoItemResponse {
  @ApiProperty({ example: 42 }) id!: number;
  @ApiProperty({ type: FeedAuthorResponse }) author!: FeedAuthorResponse;
  @ApiProperty({ example: 'my first video' }) title!: string;
  @ApiProperty({ example: '' }) description!: string;
  @ApiProperty({ example: '/static/videos/42.mp4' }) play_url!: string;
  @ApiProperty({ example: '/static/covers/42.jpg' }) cover_url!: string;
  @ApiProperty({ example: 1767225600, description: 'unix seconds' }) create_time!: number;
  @ApiProperty({ example: 3 }) likes_count!: number;
  @ApiProperty({ example: 1 }) comments_count!: number;
  @ApiProperty({ example: false, description: 'false for anonymous viewers' }) is_liked!: boolean;
  @ApiProperty({ type: [String], example: ['travel'], description: 'the #tags of title and description' })
  tags!: string[];
}

export class TimePageResponse {
  @ApiProperty({ type: [FeedVideoItemResponse] }) video_list!: FeedVideoItemResponse[];
  @ApiProperty({ example: 1767225600000, description: 'unix ms: send back as latest_time' })
  next_time!: number;
  @ApiProperty({ example: 41, description: 'send back as id_before' }) next_id_before!: number;
  @ApiProperty() has_more!: boolean;
}

export class LikesCountPageResponse {
  @ApiProperty({ type: [FeedVideoItemResponse] }) video_list!: FeedVideoItemResponse[];
  @ApiProperty({ example: 3 }) next_likes_count_before!: number;
  @ApiProperty({ example: 41 }) next_id_before!: number;
  @ApiProperty() has_more!: boolean;
}

export class PopularityPageResponse {
  @ApiProperty({ type: [FeedVideoItemResponse] }) video_list!: FeedVideoItemResponse[];
  @ApiProperty({ example: 1767225600, description: 'unix s of the snapshot minute: send back unchanged' })
  as_of!: number;
  @ApiProperty({ example: 10, description: 'send back as offset' }) next_offset!: number;
  @ApiProperty() has_more!: boolean;
}
