import { DynamicModule, Module } from '@nestjs/common';
import { CacheModule } from '@app/cache';
import { AppConfig, ConfigModule, DatabaseModule } from '@app/core';
import { EventsModule } from '@app/events';
import { SCHEMA } from '@app/schema';

/** The worker: the same domain modules as the api, no HTTP; consumers come with the events issue. */
@Module({})
export class WorkerModule {
  static forRoot(config?: AppConfig): DynamicModule {
    return {
      module: WorkerModule,
      imports: [ConfigModule.forRoot(config), DatabaseModule.forRoot(SCHEMA), CacheModule, EventsModule],
    };
  }
}
