import 'reflect-metadata';
import type { INestMicroservice } from '@nestjs/common';
import { Test, type TestingModuleBuilder } from '@nestjs/testing';
import { AppConfig, loadConfig } from '@app/core';
import type { AmqpTransportStrategy } from '@app/events';
import { migrate } from '../../apps/api/src/app.factory';
import { configureWorker, createTransport } from '../../apps/worker/src/worker.factory';
import { WorkerModule, type WorkerOptions } from '../../apps/worker/src/worker.module';
import { OutboxRelay } from '../../apps/worker/src/outbox-relay.service';
import type { TestEnv } from './test-env';

export interface TestWorker {
  app: INestMicroservice;
  config: AppConfig;
  relay: OutboxRelay;
  transport: AmqpTransportStrategy;
  /** Graceful stop, as on SIGTERM. */
  close(): Promise<void>;
}

export interface StartWorkerOptions extends WorkerOptions {
  env?: Record<string, string>;
  migrate?: boolean;
  /** Swaps providers before compiling (`builder.overrideProvider(X).useValue(…)`). */
  override?: (builder: TestingModuleBuilder) => TestingModuleBuilder;
}

/**
 * Starts the worker in-process on a test env's database, Redis prefix and vhost, as main.ts does
 * but built with `@nestjs/testing`: `Test.createTestingModule(WorkerModule…).compile()`, then
 * `createNestMicroservice({ strategy })` and `listen()`. `domainModules` replaces the real domain
 * modules (pipeline-only tests). Rejects, with everything closed, if the worker refuses to start.
 */
export async function startWorker(testEnv: TestEnv, opts: StartWorkerOptions = {}): Promise<TestWorker> {
  const config = loadConfig({ ...testEnv.env, ...(opts.env ?? {}) });
  if (opts.migrate !== false) await migrate(config);
  const transport = createTransport(config);
  let builder = Test.createTestingModule({ imports: [WorkerModule.forRoot(config, transport, opts)] });
  if (opts.override) builder = opts.override(builder);
  const moduleRef = await builder.compile();
  const app = configureWorker(
    moduleRef.createNestMicroservice({ strategy: transport, logger: ['fatal', 'error'] }),
  );
  try {
    await app.listen();
  } catch (err) {
    await app.close();
    throw err;
  }
  return { app, config, relay: app.get(OutboxRelay), transport, close: () => app.close() };
}
