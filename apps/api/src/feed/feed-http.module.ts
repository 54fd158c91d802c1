import { Module, OnModuleInit } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import type { FastifyInstance } from 'fastify';
import { FeedModule, FeedService } from '@app/feed';
import { FeedController } from './feed.controller';
import { registerLatestFastPath } from './feed-fast-path';

/** HTTP edge of the feed domain: the feed routes plus the anonymous latest-feed fast path. */
@Module({
  imports: [FeedModule],
  controllers: [FeedController],
})
export class FeedHttpModule implements OnModuleInit {
  constructor(
    private readonly adapterHost: HttpAdapterHost,
    private readonly feeds: FeedService,
  ) {}

  onModuleInit(): void {
    const fastify = this.adapterHost.httpAdapter?.getInstance<FastifyInstance>();
    if (fastify) registerLatestFastPath(fastify, this.feeds);
  }
}
