import { Module } from '@nestjs/common';
import { LikeModule } from '@app/like';
import { LikeController } from './like.controller';

/** HTTP edge of the like domain. */
@Module({
  imports: [LikeModule],
  controllers: [LikeController],
})
export class LikeHttpModule {}
