import 'reflect-metadata';
import { FastifyAdapter, NestFastifyApplication } from '@nestjs/platform-fastify';
import { Test, TestingModuleBuilder } from '@nestjs/testing';
import request from 'supertest';
import type TestAgent from 'supertest/lib/agent';
import { AppConfig, Database, loadConfig } from '@app/core';
import { closeApp, configureApp, fastifyOptions, migrate, nestOptions } from '../../apps/api/src/app.factory';
import { AppModule } from '../../apps/api/src/app.module';
import { createLogger } from '../../apps/api/src/http/logger';
import { createTestEnv, Profile, TestEnv, TestEnvOptions } from './test-env';

export interface TestApp {
  profile: Profile;
  app: NestFastifyApplication;
  config: AppConfig;
  testEnv: TestEnv;
  /** supertest against the in-process server: `t.http.post('/account/login').send({...})`. */
  http: TestAgent;
  /** Raw SQL with `?` placeholders on the suite's database. */
  sql<T = Record<string, unknown>>(q: string, params?: unknown[]): Promise<T[]>;
  /** Closes the app; `keepEnv` leaves the database for a restart with `restart()`. */
  close(opts?: { keepEnv?: boolean }): Promise<void>;
  /** Stops and starts a new app instance on the same database, prefix and data dir. */
  restart(): Promise<TestApp>;
}

export interface StartAppOptions extends TestEnvOptions {
  /**
   * Swaps dependencies before the module compiles, e.g.
   * `override: (b) => b.overrideProvider(FILE_STORAGE).useValue(fake)`. Applied again on `restart()`.
   */
  override?: (builder: TestingModuleBuilder) => TestingModuleBuilder;
}

/**
 * The api as production builds it (`configureApp` from app.factory: same Fastify options,
 * parsers, guards, filters, pipes, hooks and docs), with the module compiled by `@nestjs/testing`.
 */
async function boot(profile: Profile, testEnv: TestEnv, opts: StartAppOptions): Promise<TestApp> {
  const config = loadConfig(testEnv.env);
  await migrate(config);
  let builder = Test.createTestingModule({ imports: [AppModule.forRoot(config)] });
  if (opts.override) builder = opts.override(builder);
  const moduleRef = await builder.compile();
  const logger = createLogger(config);
  const app = moduleRef.createNestApplication<NestFastifyApplication>(
    new FastifyAdapter(fastifyOptions(config, logger)),
    nestOptions(logger),
  );
  await configureApp(app, config);
  await app.getHttpAdapter().getInstance().ready();
  const db = app.get(Database);
  const t: TestApp = {
    profile,
    app,
    config,
    testEnv,
    http: request(app.getHttpServer()),
    sql: (q, params = []) => db.query(q, params),
    close: async (closeOpts) => {
      await closeApp(app, config.http.shutdownDrainMs);
      if (!closeOpts?.keepEnv) await testEnv.cleanup();
    },
    restart: async () => {
      await closeApp(app, config.http.shutdownDrainMs);
      return boot(profile, testEnv, opts);
    },
  };
  return t;
}

/**
 * A second api on `t`'s database, Redis prefix and data dir, with `env` added to its environment
 * (e.g. `{ HTTP_FAST_READS: 'false' }`); its `close()` leaves the environment to `t`.
 */
export async function startSibling(t: TestApp, env: Record<string, string>): Promise<TestApp> {
  const sibling = await boot(t.profile, { ...t.testEnv, env: { ...t.testEnv.env, ...env } }, {});
  return { ...sibling, close: () => sibling.close({ keepEnv: true }) };
}

/** Boots the real api in-process on a private database (and Redis prefix / vhost on `full`). */
export async function startApp(profile: Profile, opts: StartAppOptions = {}): Promise<TestApp> {
  const testEnv = await createTestEnv(profile, opts);
  try {
    return await boot(profile, testEnv, opts);
  } catch (err) {
    await testEnv.cleanup();
    throw err;
  }
}

/** Asserts SPEC §1's error body and returns it. */
export function expectError(
  res: { status: number; body: unknown },
  status: number,
  code: string,
  message?: string | RegExp,
): { error: string; code: string; details?: { field: string; message: string }[] } {
  const body = res.body as { error: string; code: string; details?: { field: string; message: string }[] };
  expect({ status: res.status, code: body.code }).toEqual({ status, code });
  expect(typeof body.error).toBe('string');
  if (message instanceof RegExp) expect(body.error).toMatch(message);
  else if (message !== undefined) expect(body.error).toBe(message);
  if (code === 'VALIDATION_FAILED') expect(Array.isArray(body.details)).toBe(true);
  return body;
}
