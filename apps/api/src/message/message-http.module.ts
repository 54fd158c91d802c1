import { Module } from '@nestjs/common';
import { MessageModule } from '@app/message';
import { MessageController } from './message.controller';

/** HTTP edge of the direct messages domain. */
@Module({
  imports: [MessageModule],
  controllers: [MessageController],
})
export class MessageHttpModule {}
