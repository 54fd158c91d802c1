import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import {
  closeOnSignals,
  describeError as describe,
  loadConfigOrExit,
  whileDatabaseUnreachable,
} from '@app/core';
import { closeApp, createApp, migrate } from './app.factory';
import { createLogger, PinoNestLogger } from './http/logger';

async function bootstrap(): Promise<void> {
  const config = loadConfigOrExit();
  const logger = createLogger(config);
  // Everything logs through the same pino instance, the migrations before the app too.
  Logger.overrideLogger(new PinoNestLogger(logger));
  // Started while the database is unreachable (a container beside it, a brief outage): retried
  // for up to DB_STARTUP_WAIT_MS before the process exits.
  await whileDatabaseUnreachable(
    () => migrate(config),
    config.dbStartupWaitMs,
    (err, ms) => logger.warn(`database unreachable at startup (${describe(err)}): retrying in ${ms} ms`),
  );
  const app = await createApp(config, logger);
  // SIGTERM/SIGINT: the requests in flight finish (SHUTDOWN_DRAIN at most), then the app closes.
  closeOnSignals('Api', () => closeApp(app, config.http.shutdownDrainMs));
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
