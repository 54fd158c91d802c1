import { Controller, Get, Res } from '@nestjs/common';
import {
  ApiOkResponse,
  ApiOperation,
  ApiProperty,
  ApiServiceUnavailableResponse,
  ApiTags,
} from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { CacheStore } from '@app/cache';
import { Database } from '@app/core';
import { EventPublisher } from '@app/events';
import { StorageHealth } from '@app/storage';
import { Public } from '../http/route-metadata';

export class ReplicaHealth {
  @ApiProperty({ example: '10.0.0.5:3306', description: 'host:port, never the credentials' })
  replica!: string;
  @ApiProperty({
    enum: ['up', 'lagging', 'down', 'unknown'],
    description:
      '"up": reads go to it; "lagging": behind more than REPLICA_MAX_LAG or replication stopped; "down": unreachable; "unknown": not checked yet',
  })
  state!: 'up' | 'lagging' | 'down' | 'unknown';
  @ApiProperty({ type: Number, nullable: true, description: 'seconds behind the primary at the last check' })
  lag_seconds!: number | null;
}

export class HealthResponse {
  @ApiProperty({
    enum: ['ok', 'unavailable'],
    description: '"unavailable" (with a 503) when the database is down',
  })
  status!: 'ok' | 'unavailable';
  @ApiProperty({ enum: ['up', 'down'] }) database!: 'up' | 'down';
  @ApiProperty({ enum: ['up', 'down', 'disabled'] }) redis!: 'up' | 'down' | 'disabled';
  @ApiProperty({ enum: ['up', 'down', 'disabled'] }) rabbitmq!: 'up' | 'down' | 'disabled';
  @ApiProperty({
    enum: ['up', 'down'],
    description: 'uploaded files (local disk: writable; S3: the bucket answers), probed at most every 5 s',
  })
  storage!: 'up' | 'down';
  @ApiProperty({
    type: () => [ReplicaHealth],
    required: false,
    description: 'each read replica, only when DATABASE_REPLICA_URLS is set',
  })
  replicas?: ReplicaHealth[];
}

@ApiTags('ops')
@Controller()
export class HealthController {
  constructor(
    private readonly db: Database,
    private readonly cache: CacheStore,
    private readonly publisher: EventPublisher,
    private readonly storageHealth: StorageHealth,
  ) {}

  @Public()
  @Get('healthz')
  @ApiOperation({
    summary: 'Dependency states; 200 while the database is up (whatever the others), 503 when it is not',
  })
  @ApiOkResponse({ type: HealthResponse })
  @ApiServiceUnavailableResponse({ type: HealthResponse, description: 'the database is down' })
  async healthz(@Res() reply: FastifyReply): Promise<void> {
    // Redis and the broker are asked too (a PING; a round trip when publishing is paused): their
    // remembered states go stale on a process that serves no traffic.
    const [dbUp, storage, redis, rabbitmq] = await Promise.all([
      this.db.ping(),
      this.storageHealth.state(),
      this.cache.probe(),
      this.publisher.probe(),
    ]);
    const body: HealthResponse = {
      status: dbUp ? 'ok' : 'unavailable',
      database: dbUp ? 'up' : 'down',
      redis,
      rabbitmq,
      storage,
    };
    const replicas = this.db.replicaStatus();
    if (replicas.length > 0) {
      body.replicas = replicas.map((r) => ({
        replica: r.replica,
        state: r.state,
        lag_seconds: r.lagSeconds,
      }));
    }
    await reply.status(dbUp ? 200 : 503).send(body);
  }
}
