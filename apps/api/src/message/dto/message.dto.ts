import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { AccountResponse } from '../../account/dto/account.dto';
import { IsCursor, IsEntityId, IsLimit, IsText } from '../../http/validators';

export class SendMessageDto {
  @ApiProperty({ minimum: 1, description: 'the recipient (not yourself)' })
  @IsEntityId()
  to_id!: number;

  @ApiProperty({ minLength: 1, maxLength: 2000, description: 'trimmed' })
  @IsText(1, 2000)
  content!: string;
}

export class PeerDto {
  @ApiProperty({ minimum: 1, description: 'the other account (not yourself)' })
  @IsEntityId()
  peer_id!: number;
}

const LIMIT_DOC = {
  minimum: 0,
  maximum: 200,
  default: 50,
  description: '0 or absent = 50; above 200 = 200',
} as const;

export class ListMessagesDto extends PeerDto {
  @ApiPropertyOptional(LIMIT_DOC)
  @IsLimit()
  limit?: number;

  @ApiPropertyOptional({
    minimum: 0,
    description: 'next_id_before of the previous page; 0 or absent = newest',
  })
  @IsCursor()
  id_before?: number;
}

export class ListConversationsDto {
  @ApiPropertyOptional(LIMIT_DOC)
  @IsLimit()
  limit?: number;

  @ApiPropertyOptional({
    minimum: 0,
    description: 'next_id_before of the previous page; 0 or absent = newest',
  })
  @IsCursor()
  id_before?: number;
}

export class DirectMessageResponse {
  @ApiProperty() id!: number;
  @ApiProperty() from_id!: number;
  @ApiProperty() to_id!: number;
  @ApiProperty() content!: string;
  @ApiProperty({ description: 'the recipient has marked it read' }) is_read!: boolean;
  @ApiProperty({ example: '2026-01-01T00:00:00.000Z' }) created_at!: string;
}

export class MessagePageResponse {
  @ApiProperty({ type: [DirectMessageResponse], description: 'both directions, newest first' })
  messages!: DirectMessageResponse[];
  @ApiProperty({ description: 'id of the last message: send back as id_before' }) next_id_before!: number;
  @ApiProperty() has_more!: boolean;
}

export class ConversationResponse {
  @ApiProperty({ type: AccountResponse }) peer!: AccountResponse;
  @ApiProperty({ type: DirectMessageResponse }) last_message!: DirectMessageResponse;
  @ApiProperty({ description: 'messages from the peer not yet marked read' }) unread_count!: number;
}

export class ConversationPageResponse {
  @ApiProperty({ type: [ConversationResponse], description: 'newest last message first' })
  conversations!: ConversationResponse[];
  @ApiProperty({ description: "the last conversation's last_message.id: send back as id_before" })
  next_id_before!: number;
  @ApiProperty() has_more!: boolean;
}
