import { Controller, Get, Res } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { CacheStore } from '@app/cache';
import { Database } from '@app/core';
import { EventPublisher } from '@app/events';
import { Public } from '../http/route-metadata';

@ApiTags('ops')
@Controller()
export class HealthController {
  constructor(
    private readonly db: Database,
    private readonly cache: CacheStore,
    private readonly publisher: EventPublisher,
  ) {}

  @Public()
  @Get('healthz')
  @ApiOperation({ summary: 'Dependency states; 200 while the database is up, 503 when it is not' })
  @ApiOkResponse({ schema: { example: { status: 'ok', database: 'up', redis: 'up', rabbitmq: 'disabled' } } })
  async healthz(@Res() reply: FastifyReply): Promise<void> {
    const dbUp = await this.db.ping();
    const body = {
      status: dbUp ? 'ok' : 'unavailable',
      database: dbUp ? 'up' : 'down',
      redis: this.cache.state(),
      rabbitmq: this.publisher.state(),
    };
    await reply.status(dbUp ? 200 : 503).send(body);
  }
}
