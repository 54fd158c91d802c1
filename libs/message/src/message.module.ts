import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { IdempotencyService } from '@app/core';
import { ConversationEntity } from './conversation.entity';
import { MessageEntity } from './message.entity';
import { MessageRepository } from './message.repository';
import { MessageService } from './message.service';

/** Direct messages: messages and per-account conversations (no controllers, no events). */
@Module({
  imports: [TypeOrmModule.forFeature([MessageEntity, ConversationEntity])],
  providers: [MessageRepository, MessageService, IdempotencyService],
  exports: [MessageService],
})
export class MessageModule {}
