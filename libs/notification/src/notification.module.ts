import { Module, OnModuleInit } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { VideoDeleteHooks, VideoModule } from '@app/video';
import { NotificationEntity } from './notification.entity';
import { NotificationEventsController } from './notification-events.controller';
import { NotificationLive } from './notification-live';
import { NotificationRepository } from './notification.repository';
import { NotificationService } from './notification.service';

/**
 * Notifications (SPEC §8.4): the rows, the `@EventPattern` handlers that create them (in the
 * worker and in the api's direct paths alike), and the live channel that carries them to open
 * streams. A deleted video takes its notifications along, in its own transaction.
 */
@Module({
  imports: [TypeOrmModule.forFeature([NotificationEntity]), VideoModule],
  controllers: [NotificationEventsController],
  providers: [NotificationRepository, NotificationService, NotificationLive],
  exports: [NotificationRepository, NotificationService, NotificationLive],
})
export class NotificationModule implements OnModuleInit {
  constructor(
    private readonly deleteHooks: VideoDeleteHooks,
    private readonly repo: NotificationRepository,
  ) {}

  onModuleInit(): void {
    this.deleteHooks.register((manager, videoId) => this.repo.deleteByVideo(manager, videoId));
  }
}
