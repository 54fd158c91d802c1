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
  /** Connects with the configured profile; entities come from `@app/schema` (the app decides). */
  static forRoot(schema: SchemaDefinition): DynamicModule {
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
      // The interceptor gives HTTP requests their read-replica session (a no-op without replicas).
      providers: [Database, { provide: APP_INTERCEPTOR, useClass: ReadSessionInterceptor }],
      exports: [Database],
    };
  }
}
