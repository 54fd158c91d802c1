import { ApiProperty } from '@nestjs/swagger';
import { IsEntityId, IsText } from '../../http/validators';

export class PublishCommentDto {
  @ApiProperty({ minimum: 1 })
  @IsEntityId()
  video_id!: number;

  @ApiProperty({ minLength: 1, maxLength: 1000, description: 'trimmed' })
  @IsText(1, 1000)
  content!: string;
}
