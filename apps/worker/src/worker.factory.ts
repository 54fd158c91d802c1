import type { INestMicroservice, LoggerService, LogLevel } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { AppConfig } from '@app/core';
import { AmqpTransportStrategy } from '@app/events';
import { EventErrorFilter } from './event-error.filter';
import { WorkerModule, type WorkerOptions } from './worker.module';

/** The worker's transport, from the typed config. */
export function createTransport(config: AppConfig): AmqpTransportStrategy {
  return new AmqpTransportStrategy({
    url: config.amqpUrl,
    maxDeliveries: config.maxDeliveries,
    queueType: config.amqpQueueType,
  });
}

/** What every worker instance gets after creation (main.ts and the e2e helper alike). */
export function configureWorker(app: INestMicroservice): INestMicroservice {
  app.useGlobalFilters(new EventErrorFilter());
  return app;
}

/** The worker process: a Nest microservice on the AMQP transport, not yet listening. */
export async function createWorker(
  config: AppConfig,
  opts: WorkerOptions & { logger?: LoggerService | LogLevel[] | false } = {},
): Promise<INestMicroservice> {
  const strategy = createTransport(config);
  const app = await NestFactory.createMicroservice(WorkerModule.forRoot(config, strategy, opts), {
    strategy,
    logger: opts.logger,
    abortOnError: false,
  });
  return configureWorker(app);
}
