import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsCursor, IsEntityId, IsLimit } from '../../http/validators';

export class ListByAuthorDto {
  @ApiProperty({ minimum: 1 })
  @IsEntityId()
  author_id!: number;

  @ApiPropertyOptional({
    minimum: 0,
    maximum: 200,
    default: 200,
    description: '0 or absent = 200 (the maximum); above 200 = 200',
  })
  @IsLimit()
  limit?: number;

  @ApiPropertyOptional({ minimum: 0, description: 'last id of the previous page; 0 or absent = first page' })
  @IsCursor()
  id_before?: number;
}
