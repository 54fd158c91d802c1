import { Module, OnModuleInit } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { AccountEntity } from '@app/account';
import { EventHandlerRegistry } from '@app/events';
import { SocialEntity } from './social.entity';
import { SocialHandlers } from './social.handlers';
import { SocialRepository } from './social.repository';
import { SocialService } from './social.service';

/** Follows: source rows and the follower/vlogger counters' handlers. */
@Module({
  imports: [TypeOrmModule.forFeature([SocialEntity, AccountEntity])],
  providers: [SocialRepository, SocialService, SocialHandlers],
  exports: [SocialRepository, SocialService],
})
export class SocialModule implements OnModuleInit {
  constructor(
    private readonly registry: EventHandlerRegistry,
    private readonly handlers: SocialHandlers,
  ) {}

  onModuleInit(): void {
    for (const h of this.handlers.all()) this.registry.register(h);
  }
}
