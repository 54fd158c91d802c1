import { LogLevel } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, NestFastifyApplication } from '@nestjs/platform-fastify';
import type { IncomingMessage } from 'node:http';
import { DataSource } from 'typeorm';
import { AppConfig, buildDataSourceOptions, runMigrations } from '@app/core';
import { SCHEMA } from '@app/schema';
import { EventHousekeeper } from '@app/events';
import { AppModule } from './app.module';
import { mountDocs } from './docs/openapi';
import { AllExceptionsFilter } from './http/all-exceptions.filter';
import { genRequestId, registerRequestHooks } from './http/request-hooks';
import { AppValidationPipe } from './http/validation.pipe';
import { MetricsService } from './metrics/metrics.service';

export const BODY_LIMIT = 1024 * 1024;

export function logLevels(level: AppConfig['logLevel']): LogLevel[] {
  const all: LogLevel[] = ['fatal', 'error', 'warn', 'log', 'debug', 'verbose'];
  const upto: Record<AppConfig['logLevel'], number> = { silent: 0, error: 2, warn: 3, info: 4, debug: 6 };
  return all.slice(0, upto[level]);
}

/** Runs pending migrations with a short-lived connection (seed: AutoMigrate), under a lock. */
export async function migrate(config: AppConfig): Promise<string[]> {
  const ds = new DataSource(buildDataSourceOptions(config, SCHEMA));
  await ds.initialize();
  try {
    return await runMigrations(ds);
  } finally {
    await ds.destroy();
  }
}

/** `/api/x` is the same route as `/x` (SPEC §1). */
function rewriteUrl(req: IncomingMessage): string {
  const url = req.url ?? '/';
  if (url === '/api' || url.startsWith('/api?')) return '/' + url.slice(4);
  return url.startsWith('/api/') ? url.slice(4) : url;
}

/** Builds the api (routes registered, not listening). Used by main.ts, tests and benchmarks. */
export async function createApp(config: AppConfig): Promise<NestFastifyApplication> {
  const adapter = new FastifyAdapter({
    bodyLimit: BODY_LIMIT,
    trustProxy: config.trustedProxies.length > 0 ? config.trustedProxies : false,
    rewriteUrl,
    genReqId: (req: IncomingMessage) => genRequestId(req.headers['x-request-id']),
    logger: false,
    return503OnClosing: true,
  });
  const app = await NestFactory.create<NestFastifyApplication>(AppModule.forRoot(config), adapter, {
    logger: logLevels(config.logLevel),
    abortOnError: false,
  });
  const fastify = app.getHttpAdapter().getInstance();
  app.useGlobalFilters(new AllExceptionsFilter());
  app.useGlobalPipes(new AppValidationPipe());
  registerRequestHooks(
    fastify,
    app.get(MetricsService),
    config.logLevel === 'info' || config.logLevel === 'debug',
  );
  fastify.get('/metrics', async (_req, reply) => {
    const metrics = app.get(MetricsService);
    return reply.type(metrics.registry.contentType).send(await metrics.registry.metrics());
  });
  app.enableShutdownHooks();
  await app.init();
  mountDocs(app);
  // With a broker the worker prunes the event tables; without one there is no worker.
  if (!config.amqpUrl) app.get(EventHousekeeper).start();
  return app;
}
