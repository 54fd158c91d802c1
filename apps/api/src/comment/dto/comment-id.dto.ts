import { ApiProperty } from '@nestjs/swagger';
import { IsEntityId } from '../../http/validators';

export class CommentIdDto {
  @ApiProperty({ minimum: 1 })
  @IsEntityId()
  comment_id!: number;
}
