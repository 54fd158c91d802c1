import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { AccountEntity } from '@app/account';
import { SocialEntity } from './social.entity';
import { SocialEventsController } from './social-events.controller';
import { SocialRepository } from './social.repository';
import { FollowHooks } from './follow-hooks';
import { SocialService } from './social.service';

/** Follows: source rows, and the follower/vlogger counters' `@EventPattern` handlers. */
@Module({
  imports: [TypeOrmModule.forFeature([SocialEntity, AccountEntity])],
  controllers: [SocialEventsController],
  providers: [SocialRepository, SocialService, FollowHooks],
  exports: [SocialRepository, SocialService, FollowHooks],
})
export class SocialModule {}
