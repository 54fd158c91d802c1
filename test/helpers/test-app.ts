import 'reflect-metadata';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import request from 'supertest';
import type TestAgent from 'supertest/lib/agent';
import { AppConfig, Database, loadConfig } from '@app/core';
import { createApp, migrate } from '../../apps/api/src/app.factory';
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

async function boot(profile: Profile, testEnv: TestEnv): Promise<TestApp> {
  const config = loadConfig(testEnv.env);
  await migrate(config);
  const app = await createApp(config);
  await app.getHttpAdapter().getInstance().ready();
  const db = app.get(Database);
  const t: TestApp = {
    profile,
    app,
    config,
    testEnv,
    http: request(app.getHttpServer()),
    sql: (q, params = []) => db.query(q, params),
    close: async (opts) => {
      await app.close();
      if (!opts?.keepEnv) await testEnv.cleanup();
    },
    restart: async () => {
      await app.close();
      return boot(profile, testEnv);
    },
  };
  return t;
}

/** Boots the real api in-process on a private database (and Redis prefix / vhost on `full`). */
export async function startApp(profile: Profile, opts: TestEnvOptions = {}): Promise<TestApp> {
  const testEnv = await createTestEnv(profile, opts);
  try {
    return await boot(profile, testEnv);
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
