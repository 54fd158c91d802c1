import { Module } from '@nestjs/common';
import { AccountModule } from '@app/account';
import { NotificationModule } from '@app/notification';
import { NotificationStreams } from './notification-streams.service';
import { NotificationController } from './notification.controller';

/** HTTP edge of notifications: the three routes and the event stream. */
@Module({
  imports: [NotificationModule, AccountModule],
  controllers: [NotificationController],
  providers: [NotificationStreams],
  exports: [NotificationStreams],
})
export class NotificationHttpModule {}
