import 'reflect-metadata';
import { Logger, type LogLevel } from '@nestjs/common';
import {
  closeOnSignals,
  connectOnce,
  describeError as describe,
  loadConfigOrExit,
  whileDatabaseUnreachable,
  type AppConfig,
} from '@app/core';
import { createWorker } from './worker.factory';

function logLevels(level: AppConfig['logLevel']): LogLevel[] {
  const all: LogLevel[] = ['fatal', 'error', 'warn', 'log', 'debug', 'verbose'];
  const upto: Record<AppConfig['logLevel'], number> = { silent: 0, error: 2, warn: 3, info: 4, debug: 6 };
  return all.slice(0, upto[level]);
}

async function bootstrap(): Promise<void> {
  const config = loadConfigOrExit();
  // Started while the database is unreachable (a container beside it, a brief outage): waits for
  // it, up to DB_STARTUP_WAIT_MS, before any module opens a connection, then exits if it is still away.
  const log = new Logger('Worker');
  await whileDatabaseUnreachable(
    () => connectOnce(config),
    config.dbStartupWaitMs,
    (err, ms) => log.warn(`database unreachable at startup (${describe(err)}): retrying in ${ms} ms`),
  );
  const app = await createWorker(config, { logger: logLevels(config.logLevel) });
  // SIGTERM/SIGINT: stop consuming, finish the batches in flight, close, exit 0.
  closeOnSignals('Worker', () => app.close());
  try {
    // Refuses to start (rejects) while a routing key of SPEC §4 has no @EventPattern handler.
    await app.listen();
  } catch (err) {
    await app.close();
    throw err;
  }
  process.send?.({ type: 'ready' });
}

bootstrap().catch((err: unknown) => {
  console.error('worker failed to start:', err instanceof Error ? err.message : err);
  process.exit(1);
});
