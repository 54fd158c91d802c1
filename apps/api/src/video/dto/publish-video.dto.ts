import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsMediaUrl, IsText } from '../../http/validators';

export class PublishVideoDto {
  @ApiProperty({ minLength: 1, maxLength: 255, example: 'My first clip' })
  @IsText(1, 255)
  title!: string;

  @ApiPropertyOptional({ maxLength: 2000, default: '' })
  @IsText(0, 2000, { optional: true })
  description?: string;

  @ApiProperty({ description: 'http(s):// URL or /static/... path', example: '/static/videos/a.mp4' })
  @IsMediaUrl()
  play_url!: string;

  @ApiProperty({ description: 'http(s):// URL or /static/... path', example: '/static/covers/a.jpg' })
  @IsMediaUrl()
  cover_url!: string;
}
