import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { ConfigError, loadConfig } from '@app/core';
import { WorkerModule } from './worker.module';

async function bootstrap(): Promise<void> {
  let config;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(err.message);
      process.exit(1);
    }
    throw err;
  }
  const app = await NestFactory.createApplicationContext(WorkerModule.forRoot(config), {
    logger: ['fatal', 'error', 'warn', 'log'],
  });
  app.enableShutdownHooks();
  await app.init();
  new Logger('Worker').log(
    config.amqpUrl ? 'started, consuming from RabbitMQ' : 'started without AMQP_URL: nothing to consume',
  );
}

bootstrap().catch((err: unknown) => {
  console.error('worker failed to start:', err);
  process.exit(1);
});
