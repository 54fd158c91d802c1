import { Module } from '@nestjs/common';
import { SocialModule } from '@app/social';
import { SocialController } from './social.controller';

/** HTTP edge of the social domain. */
@Module({
  imports: [SocialModule],
  controllers: [SocialController],
})
export class SocialHttpModule {}
