import { Body, Controller, Headers, HttpCode, Post } from '@nestjs/common';
import { ApiBearerAuth, ApiHeader, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { AuthAccount } from '@app/account';
import { IdempotencyService } from '@app/core';
import { ConversationPage, MessagePage, MessageService, MessageView } from '@app/message';
import { ApiCommonErrors, ApiErrors } from '../http/api-errors';
import { MessageResponse } from '../http/api-responses';
import { CurrentAccount } from '../http/current-account.decorator';
import { RateLimit, RefusesSelf } from '../http/rate-limit.decorator';
import { cursorOrUndefined, resolveLimit } from '../http/validators';
import {
  ConversationPageResponse,
  DirectMessageResponse,
  ListConversationsDto,
  ListMessagesDto,
  MessagePageResponse,
  PeerDto,
  SendMessageDto,
} from './dto/message.dto';

/** SPEC §8.2: default 50, max 200 (not the other lists' default). */
const MESSAGE_LIMIT = { default: 50, max: 200 };

@ApiTags('message')
@ApiBearerAuth()
@ApiCommonErrors()
@Controller('message')
export class MessageController {
  constructor(private readonly messages: MessageService) {}

  @Post('send')
  @HttpCode(200)
  @RateLimit('message')
  @RefusesSelf('to_id')
  @ApiOperation({
    summary:
      'Send a direct message (400 to yourself, 404 recipient; Idempotency-Key: a retry returns the first response)',
  })
  @ApiHeader({ name: 'Idempotency-Key', required: false })
  @ApiOkResponse({ type: DirectMessageResponse })
  @ApiErrors(401, 404, 429)
  send(
    @CurrentAccount() me: AuthAccount,
    @Body() dto: SendMessageDto,
    @Headers('idempotency-key') idempotencyKey?: string,
  ): Promise<MessageView> {
    return this.messages.send(me.id, dto.to_id, dto.content, IdempotencyService.parseKey(idempotencyKey));
  }

  @Post('list')
  @HttpCode(200)
  @ApiOperation({
    summary: 'Messages with one account, both directions, newest first (page with id_before; 404 peer)',
  })
  @ApiOkResponse({ type: MessagePageResponse })
  @ApiErrors(401, 404)
  list(@CurrentAccount() me: AuthAccount, @Body() dto: ListMessagesDto): Promise<MessagePage> {
    return this.messages.list(
      me.id,
      dto.peer_id,
      cursorOrUndefined(dto.id_before),
      resolveLimit(dto.limit, MESSAGE_LIMIT),
    );
  }

  @Post('conversations')
  @HttpCode(200)
  @ApiOperation({
    summary: 'Your conversations, newest last message first, with unread counts (page with id_before)',
  })
  @ApiOkResponse({ type: ConversationPageResponse })
  @ApiErrors(401)
  conversations(
    @CurrentAccount() me: AuthAccount,
    @Body() dto: ListConversationsDto,
  ): Promise<ConversationPage> {
    return this.messages.conversations(
      me.id,
      cursorOrUndefined(dto.id_before),
      resolveLimit(dto.limit, MESSAGE_LIMIT),
    );
  }

  @Post('markRead')
  @HttpCode(200)
  @ApiOperation({ summary: 'Mark every message from peer_id to you read (404 peer)' })
  @ApiOkResponse({ type: MessageResponse })
  @ApiErrors(401, 404)
  async markRead(@CurrentAccount() me: AuthAccount, @Body() dto: PeerDto): Promise<MessageResponse> {
    await this.messages.markRead(me.id, dto.peer_id);
    return { message: 'messages marked read' };
  }
}
