import { Logger, type NestApplicationOptions } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, NestFastifyApplication } from '@nestjs/platform-fastify';
import { LogController, type FastifyServerOptions } from 'fastify';
import type { IncomingMessage, ServerOptions } from 'node:http';
import type { Logger as PinoLogger } from 'pino';
import { DataSource } from 'typeorm';
import { AppConfig, buildDataSourceOptions, runMigrations } from '@app/core';
import { SCHEMA } from '@app/schema';
import { EventHousekeeper } from '@app/events';
import { AppModule } from './app.module';
import { mountDocs } from './docs/openapi';
import { AllExceptionsFilter, sendError, toErrorResponse } from './http/all-exceptions.filter';
import { JSON_BODY_LIMIT, registerJsonParser } from './http/json-body';
import { createLogger, lazyChildLogger, PinoNestLogger } from './http/logger';
import { drain, trackConnections } from './http/drain';
import { inFlightHandlers, trackHandlers } from './http/in-flight';
import { genRequestId, registerRequestHooks } from './http/request-hooks';
import { registerSecurityHeaders } from './http/security-headers';
import { capConnectionsPerIp, clientErrorHandler, registerRequestLimits } from './http/server-limits';
import { AppValidationPipe } from './http/validation.pipe';
import { MetricsService } from './metrics/metrics.service';
import { NotificationStreams } from './notification/notification-streams.service';

/** Runs pending migrations with a short-lived connection (seed: AutoMigrate), under a lock. */
export async function migrate(config: AppConfig): Promise<string[]> {
  const ds = new DataSource(buildDataSourceOptions(config, SCHEMA, { statementTimeoutMs: 0 }));
  await ds.initialize();
  try {
    return await runMigrations(ds);
  } finally {
    await ds.destroy();
  }
}

/** `/api/x` is the same route as `/x` (SPEC §1). */
function rewriteUrl(req: IncomingMessage): string {
  const url = req.url ?? '/';
  if (url === '/api' || url.startsWith('/api?')) return '/' + url.slice(4);
  return url.startsWith('/api/') ? url.slice(4) : url;
}

/**
 * Fastify's options for the api, from the typed config: the JSON body limit, the proxies whose
 * `X-Forwarded-*` are trusted, the pino logger, the timeouts of SPEC §1 (headers within
 * `REQUEST_TIMEOUT`, a whole request within `UPLOAD_TIMEOUT`, idle and keep-alive sockets
 * closed), and SPEC §1 error bodies for what Fastify and Node answer on their own.
 */
export function fastifyOptions(
  config: AppConfig,
  logger: PinoLogger,
): FastifyServerOptions & { http: ServerOptions; skipMiddie: boolean } {
  const limits = config.http;
  const errors = new Logger('HttpError');
  return {
    bodyLimit: JSON_BODY_LIMIT,
    trustProxy: config.trustedProxies.length > 0 ? config.trustedProxies : false,
    rewriteUrl,
    genReqId: (req: IncomingMessage) => genRequestId(req.headers['x-request-id']),
    loggerInstance: logger,
    childLoggerFactory: lazyChildLogger,
    logController: new LogController({ disableRequestLogging: true }),
    // During the drain (closeApp) the modules are still up: a request that arrives on a kept-alive
    // connection is served, with `Connection: close` (Fastify sets it while closing), not refused.
    return503OnClosing: false,
    requestTimeout: limits.uploadTimeoutMs,
    connectionTimeout: limits.idleTimeoutMs,
    keepAliveTimeout: limits.keepAliveTimeoutMs,
    http: {
      headersTimeout: limits.requestTimeoutMs,
      // How often Node looks for requests whose headers are late: at most a 40th of the deadline
      // (250 ms for 10 s) past it, so headers finished just after it are a 408, not served.
      connectionsCheckingInterval: Math.min(1000, Math.max(25, Math.floor(limits.requestTimeoutMs / 40))),
    },
    clientErrorHandler,
    frameworkErrors: (err, req, reply) => sendError(reply, toErrorResponse(err, errors, req.id)),
    // No Nest middleware here (guards, pipes and Fastify hooks do that work), so no @fastify/middie,
    // whose `onRequest` hook ran on every request, fast reads included. A module that adds
    // middleware fails at startup (Fastify has no `use` without it) rather than being skipped.
    skipMiddie: true,
  };
}

/** Nest's options for the api: Nest's own body parsers off (JSON only, SPEC §1), logs to pino. */
export function nestOptions(logger: PinoLogger): NestApplicationOptions {
  return { bodyParser: false, logger: new PinoNestLogger(logger), abortOnError: false };
}

/**
 * Everything about the app beyond its modules, shared by production (`createApp`) and the e2e
 * harness (test/helpers/test-app.ts, which builds the module with `@nestjs/testing`): parsers,
 * security headers, timeouts and connection caps, the error filter, the validation pipe, request
 * hooks; then `init()` (the global guards of HttpEdgeModule are part of the module) and the docs.
 */
export async function configureApp(app: NestFastifyApplication, config: AppConfig): Promise<void> {
  const fastify = app.getHttpAdapter().getInstance();
  registerJsonParser(fastify);
  registerSecurityHeaders(fastify);
  registerRequestLimits(fastify, app.getHttpServer(), config.http);
  trackConnections(app.getHttpServer());
  trackHandlers(fastify, app.getHttpServer());
  capConnectionsPerIp(app.getHttpServer(), config.http.maxConnectionsPerIp, config.trustedProxies);
  app.useGlobalFilters(new AllExceptionsFilter());
  app.useGlobalPipes(new AppValidationPipe());
  registerRequestHooks(
    fastify,
    // Observed only when a metrics listener serves them.
    config.metricsPort !== null ? app.get(MetricsService) : null,
    config.logLevel === 'info' || config.logLevel === 'debug',
  );
  // Before the HTTP server closes ({@link closeApp}): its long-lived streams end, or it waits for them.
  const streams = app.get(NotificationStreams);
  fastify.addHook('preClose', (done) => {
    streams.endAll();
    done();
  });
  await app.init();
  mountDocs(app);
  // With a broker the worker prunes the event tables; without one there is no worker.
  if (!config.amqpUrl) app.get(EventHousekeeper).start();
}

/**
 * Closes the api in the order a rolling restart needs (main.ts on SIGTERM/SIGINT, and the e2e
 * harness): the HTTP server first, then Nest. Nest's own `close()` runs the modules' destroy hooks
 * (the password hasher's threads, the rate limiter's fallback, …) before it stops the HTTP server,
 * so a login in flight at SIGTERM found its hasher closed and answered 500.
 *
 * The HTTP server: open notification streams end (`preClose`, {@link configureApp}), no new
 * connection is accepted, idle kept-alive ones close, a request still arriving on a kept-alive one
 * is served with `Connection: close` (Fastify's, while closing), and the requests in flight
 * finish, each with `Connection: close` ({@link drain}), for at most `drainMs`
 * (`SHUTDOWN_DRAIN`); then the connections still open are cut.
 * Then the route handlers still running finish (`InFlightHandlers`: those whose client went
 * away, which the drain does not see), within the same `drainMs`.
 * Then Nest's close: destroy hooks, and the connections to the database, Redis and the broker.
 */
export async function closeApp(app: NestFastifyApplication, drainMs: number): Promise<void> {
  const deadline = Date.now() + drainMs;
  const server = app.getHttpServer();
  let timer: NodeJS.Timeout | undefined;
  const closing = drain(
    server,
    Promise.resolve(app.getHttpAdapter().close()).then(() => undefined),
  );
  const drained = await Promise.race([
    closing.then(() => true),
    new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), drainMs);
    }),
  ]).finally(() => clearTimeout(timer));
  if (!drained) {
    new Logger('Api').warn(
      `requests still in flight after ${drainMs} ms of draining: their connections are cut`,
    );
    server.closeAllConnections();
    await closing;
  }
  // A handler whose client went away (its connection is closed, so the drain did not wait for
  // it) finishes before the connections to the database, Redis and the broker close.
  const handlers = inFlightHandlers(server);
  if (handlers && !(await handlers.idle(Math.max(0, deadline - Date.now())))) {
    new Logger('Api').warn(
      `${handlers.count} request handler(s) still running after ${drainMs} ms of draining: closing anyway`,
    );
  }
  await app.close();
}

/** Builds the api (routes registered, not listening). Used by main.ts and benchmarks. */
export async function createApp(
  config: AppConfig,
  logger: PinoLogger = createLogger(config),
): Promise<NestFastifyApplication> {
  const app = await NestFactory.create<NestFastifyApplication>(
    AppModule.forRoot(config),
    new FastifyAdapter(fastifyOptions(config, logger)),
    nestOptions(logger),
  );
  await configureApp(app, config);
  return app;
}
