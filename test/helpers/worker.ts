import 'reflect-metadata';
import type { INestApplicationContext } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { AppConfig, loadConfig } from '@app/core';
import { migrate } from '../../apps/api/src/app.factory';
import { WorkerModule, type WorkerOptions } from '../../apps/worker/src/worker.module';
import { OutboxRelay } from '../../apps/worker/src/outbox-relay.service';
import { WorkerRunner } from '../../apps/worker/src/worker-runner.service';
import type { TestEnv } from './test-env';

export interface TestWorker {
  app: INestApplicationContext;
  config: AppConfig;
  relay: OutboxRelay;
  /** Graceful stop, as on SIGTERM. */
  close(): Promise<void>;
}

/**
 * Starts the worker in-process (a Nest application context) on a test env's database, Redis
 * prefix and vhost. `domainModules` replaces the real domain modules (pipeline-only tests).
 */
export async function startWorker(
  testEnv: TestEnv,
  opts: WorkerOptions & { env?: Record<string, string>; migrate?: boolean } = {},
): Promise<TestWorker> {
  const config = loadConfig({ ...testEnv.env, ...(opts.env ?? {}) });
  if (opts.migrate !== false) await migrate(config);
  const app = await NestFactory.createApplicationContext(WorkerModule.forRoot(config, opts), {
    logger: ['fatal', 'error'],
    abortOnError: false,
  });
  try {
    await app.get(WorkerRunner).start();
  } catch (err) {
    await app.close();
    throw err;
  }
  return { app, config, relay: app.get(OutboxRelay), close: () => app.close() };
}
