import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import { loadConfigOrExit } from '@app/core';
import { createApp, migrate } from './app.factory';
import { createLogger, PinoNestLogger } from './http/logger';

async function bootstrap(): Promise<void> {
  const config = loadConfigOrExit();
  const logger = createLogger(config);
  // Everything logs through the same pino instance, the migrations before the app too.
  Logger.overrideLogger(new PinoNestLogger(logger));
  await migrate(config);
  const app = await createApp(config, logger);
  await app.listen({ port: config.port, host: config.host });
  const profile = [
    config.database.type === 'sqlite' ? `SQLite (${config.database.path})` : 'MySQL',
    config.redisUrl ? 'Redis' : 'in-process cache',
    config.amqpUrl ? 'RabbitMQ' : 'no broker',
  ].join(', ');
  new Logger('Api').log(`listening on http://localhost:${config.port} (${profile})`);
}

bootstrap().catch((err: unknown) => {
  console.error('api failed to start:', err);
  process.exit(1);
});
