import { ApiPropertyOptional } from '@nestjs/swagger';
import { IsEntityId } from '../../http/validators';

export class GetCountsDto {
  @ApiPropertyOptional({ minimum: 1, description: 'absent = the caller' })
  @IsEntityId({ optional: true })
  account_id?: number;
}
