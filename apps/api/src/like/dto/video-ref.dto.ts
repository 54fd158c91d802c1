import { ApiProperty } from '@nestjs/swagger';
import { IsEntityId } from '../../http/validators';

export class VideoRefDto {
  @ApiProperty({ minimum: 1 })
  @IsEntityId()
  video_id!: number;
}
