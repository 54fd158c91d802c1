import { Body, Controller, Get, HttpCode, Post, Req, Res } from '@nestjs/common';
import { ApiBearerAuth, ApiHeader, ApiOkResponse, ApiOperation, ApiQuery, ApiTags } from '@nestjs/swagger';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { AccessTokenService, AuthService, type AuthAccount, tokenDigest } from '@app/account';
import { NotificationErrors, NotificationService, type NotificationPage } from '@app/notification';
import { EmptyDto } from '../account/dto/account.dto';
import { ApiCommonErrors, ApiErrors } from '../http/api-errors';
import { MessageResponse } from '../http/api-responses';
import { CurrentAccount } from '../http/current-account.decorator';
import { Public } from '../http/route-metadata';
import { cursorOrUndefined, MAX_ID, resolveLimit } from '../http/validators';
import {
  ListNotificationsDto,
  MarkReadDto,
  NotificationPageResponse,
  UnreadCountResponse,
} from './dto/notification.dto';
import { NotificationStreams } from './notification-streams.service';

/** SPEC §8.4: default 50, max 200. */
const NOTIFICATION_LIMIT = { default: 50, max: 200 };
const BEARER = /^bearer +([^\s]+) *$/i;
const ID = /^\d{1,16}$/;

/** One value of a header or query parameter; a repeated one is a 400 like any wrong type. */
function single(v: unknown, field: string): string | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'string') throw NotificationErrors.badField(field, 'must be given once, as a string');
  return v;
}

/** `Last-Event-ID` (header, set by EventSource on reconnect) or `last_event_id` (query): the header wins. */
function lastEventId(header: unknown, query: unknown): number | undefined {
  const raw = single(header, 'Last-Event-ID') ?? single(query, 'last_event_id');
  if (raw === undefined || raw.trim() === '') return undefined;
  const v = raw.trim();
  if (!ID.test(v) || Number(v) > MAX_ID) throw NotificationErrors.badLastEventId();
  return Number(v);
}

@ApiTags('notification')
@ApiBearerAuth()
@ApiCommonErrors()
@Controller('notification')
export class NotificationController {
  constructor(
    private readonly notifications: NotificationService,
    private readonly streams: NotificationStreams,
    private readonly auth: AuthService,
    private readonly tokens: AccessTokenService,
  ) {}

  @Post('list')
  @HttpCode(200)
  @ApiOperation({ summary: 'Your notifications, newest first (page with id_before; default 50, max 200)' })
  @ApiOkResponse({ type: NotificationPageResponse })
  @ApiErrors(401)
  list(@CurrentAccount() me: AuthAccount, @Body() dto: ListNotificationsDto): Promise<NotificationPage> {
    return this.notifications.list(
      me.id,
      cursorOrUndefined(dto.id_before),
      resolveLimit(dto.limit, NOTIFICATION_LIMIT),
    );
  }

  @Post('unreadCount')
  @HttpCode(200)
  @ApiOperation({ summary: 'How many of your notifications are not marked read' })
  @ApiOkResponse({ type: UnreadCountResponse })
  @ApiErrors(401)
  async unreadCount(@CurrentAccount() me: AuthAccount, @Body() _dto: EmptyDto): Promise<UnreadCountResponse> {
    return { count: await this.notifications.unreadCount(me.id) };
  }

  @Post('markRead')
  @HttpCode(200)
  @ApiOperation({
    summary: 'Mark one of your notifications read (404 if it is not yours), or all of them without id',
  })
  @ApiOkResponse({ type: MessageResponse })
  @ApiErrors(401, 404)
  async markRead(@CurrentAccount() me: AuthAccount, @Body() dto: MarkReadDto): Promise<MessageResponse> {
    // `null` is absent, as on every optional id (IsEntityId): all of them.
    const id = dto.id ?? undefined;
    await this.notifications.markRead(me.id, id);
    return { message: id === undefined ? 'all notifications marked read' : 'notification marked read' };
  }

  /**
   * Server-Sent Events. `@Public()` for the guards: it authenticates itself, from the
   * `Authorization` header or `?token=` (EventSource cannot set headers), with every check of
   * SPEC §2. Errors before the stream starts are ordinary JSON errors (400, then 401).
   */
  @Public()
  @Get('stream')
  @ApiOperation({
    summary:
      'Live notifications (text/event-stream): `event: notification` with an `id:` and the Notification JSON as ' +
      'data; `: keepalive` every 25 s; `event: read` ({id}, 0 = all) when notifications are marked read; a final ' +
      '`event: revoked` or `event: superseded` (a 6th stream of the account closes the oldest) before the server ' +
      'ends a stream. Token from Authorization: Bearer or ?token=; Last-Event-ID (or ?last_event_id=) replays up to ' +
      'the 100 newest missed.',
  })
  @ApiQuery({
    name: 'token',
    type: String,
    required: false,
    description: 'the access token, for EventSource',
  })
  @ApiQuery({
    name: 'last_event_id',
    type: String,
    required: false,
    description: 'as the Last-Event-ID header',
  })
  @ApiHeader({ name: 'Last-Event-ID', required: false, description: 'the id of the last event received' })
  @ApiOkResponse({
    description: 'an event stream',
    content: { 'text/event-stream': { schema: { type: 'string' } } },
  })
  @ApiErrors(400, 401)
  async stream(@Req() req: FastifyRequest, @Res() reply: FastifyReply): Promise<void> {
    const query = (req.query ?? {}) as Record<string, unknown>;
    const after = lastEventId(req.headers['last-event-id'], query.last_event_id);
    const queryToken = single(query.token, 'token');
    const header = req.headers.authorization;
    let account: AuthAccount;
    let token: string;
    if (header === undefined && queryToken !== undefined && queryToken !== '') {
      account = await this.auth.authenticate(queryToken);
      token = queryToken;
    } else {
      account = await this.auth.authenticateHeader(header);
      token = BEARER.exec(header ?? '')![1];
    }
    const expiresAt = this.tokens.verify(token).exp * 1000;
    if (req.method === 'HEAD') {
      await reply.header('content-type', 'text/event-stream; charset=utf-8').send();
      return;
    }
    await this.streams.open(req, reply, {
      accountId: account.id,
      tokenDigest: tokenDigest(token),
      expiresAt,
      lastEventId: after,
    });
  }
}
