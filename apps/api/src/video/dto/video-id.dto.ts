import { ApiProperty } from '@nestjs/swagger';
import { IsEntityId } from '../../http/validators';

export class VideoIdDto {
  @ApiProperty({ minimum: 1 })
  @IsEntityId()
  id!: number;
}
