import 'reflect-metadata';
import { Logger, type LogLevel } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { ConfigError, loadConfig, type AppConfig } from '@app/core';
import { WorkerModule } from './worker.module';
import { WorkerRunner } from './worker-runner.service';

function logLevels(level: AppConfig['logLevel']): LogLevel[] {
  const all: LogLevel[] = ['fatal', 'error', 'warn', 'log', 'debug', 'verbose'];
  const upto: Record<AppConfig['logLevel'], number> = { silent: 0, error: 2, warn: 3, info: 4, debug: 6 };
  return all.slice(0, upto[level]);
}

async function bootstrap(): Promise<void> {
  let config: AppConfig;
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
    logger: logLevels(config.logLevel),
    abortOnError: false,
  });
  // SIGTERM/SIGINT: stop consuming, finish in-flight messages, close, exit 0.
  let stopping = false;
  const shutdown = (signal: NodeJS.Signals): void => {
    if (stopping) return;
    stopping = true;
    new Logger('Worker').log(`${signal}: draining and shutting down`);
    app.close().then(
      () => process.exit(0),
      (err: unknown) => {
        console.error('worker shutdown failed:', err);
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', shutdown);
  process.once('SIGINT', shutdown);
  await app.init();
  try {
    await app.get(WorkerRunner).start();
  } catch (err) {
    await app.close();
    throw err;
  }
  new Logger('Worker').log(
    config.amqpUrl ? 'started, consuming from RabbitMQ' : 'started without AMQP_URL: nothing to consume',
  );
  process.send?.({ type: 'ready' });
}

bootstrap().catch((err: unknown) => {
  console.error('worker failed to start:', err instanceof Error ? err.message : err);
  process.exit(1);
});
