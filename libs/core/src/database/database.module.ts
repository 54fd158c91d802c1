import { DynamicModule, Global, Module } from '@nestjs/common';
import { APP_INTERCEPTOR } from '@nestjs/core';
import { TypeOrmModule } from '@nestjs/typeorm';
import { APP_CONFIG } from '../config/config.module';
import type { AppConfig } from '../config/app-config';
import { buildDataSourceOptions, SchemaDefinition } from './data-source-options';
import { Database } from './database.service';
import { ReadSessionInterceptor } from './read-session.interceptor';

@Global()
@Module({})
export class DatabaseModule {
  /**
   * Connects with the configured profile; entities come from `@app/schema` (the app decides).
   * `readSessions`: the api with read replicas configured installs the interceptor that gives each
   * HTTP request its read-replica session; without replicas it would only cost every request an
   * interceptor, so it is not installed.
   */
  static forRoot(schema: SchemaDefinition, opts: { readSessions?: boolean } = {}): DynamicModule {
    return {
      module: DatabaseModule,
      imports: [
        TypeOrmModule.forRootAsync({
          inject: [APP_CONFIG],
          useFactory: (config: AppConfig) => ({
            ...buildDataSourceOptions(config, schema),
            retryAttempts: 3,
            retryDelay: 1000,
          }),
        }),
      ],
      providers: [
        Database,
        ...(opts.readSessions ? [{ provide: APP_INTERCEPTOR, useClass: ReadSessionInterceptor }] : []),
      ],
      exports: [Database],
    };
  }
}
