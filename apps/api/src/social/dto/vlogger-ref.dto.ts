import { ApiProperty } from '@nestjs/swagger';
import { IsEntityId } from '../../http/validators';

export class VloggerRefDto {
  @ApiProperty({ minimum: 1 })
  @IsEntityId()
  vlogger_id!: number;
}
