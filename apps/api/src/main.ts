import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import { ConfigError, loadConfig } from '@app/core';
import { createApp, migrate } from './app.factory';

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
  await migrate(config);
  const app = await createApp(config);
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
