import { ApiPropertyOptional } from '@nestjs/swagger';
import { IsCursor, IsEntityId, IsLimit } from '../../http/validators';

export class ListVloggersDto {
  @ApiPropertyOptional({ minimum: 1, description: 'absent = the caller' })
  @IsEntityId({ optional: true })
  follower_id?: number;

  @ApiPropertyOptional({
    minimum: 0,
    maximum: 200,
    default: 200,
    description: '0 or absent = 200 (the maximum); above 200 = 200',
  })
  @IsLimit()
  limit?: number;

  @ApiPropertyOptional({ minimum: 0, description: 'follow_id of the last item; 0 or absent = first page' })
  @IsCursor()
  id_before?: number;
}
