import type { LoggerService } from '@nestjs/common';
import type { FastifyBaseLogger } from 'fastify';
import pino, {
  type Bindings,
  type ChildLoggerOptions,
  type Level,
  type Logger,
  type LoggerOptions,
} from 'pino';
import type { AppConfig } from '@app/core';

/** Never written to a log line, whatever a caller passes (SPEC §2: tokens never leave the server). */
export const REDACTED_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'headers.authorization',
  'headers.cookie',
  'authorization',
  'token',
  'refresh_token',
  'password',
  'old_password',
  'new_password',
  '*.token',
  '*.refresh_token',
  '*.password',
  '*.old_password',
  '*.new_password',
];

const TOKEN_QUERY = /([?&](?:access_token|refresh_token|token)=)[^&#]*/gi;

/** A URL for the log: token query parameters (`EventSource` sends `?token=`) replaced. */
export function redactUrl(url: string): string {
  return url.includes('token=') ? url.replace(TOKEN_QUERY, '$1[redacted]') : url;
}

function prettyAvailable(): boolean {
  try {
    require.resolve('pino-pretty');
    return true;
  } catch {
    return false;
  }
}

/**
 * The process logger (Fastify's pino, shared with Nest): `LOG_LEVEL` sets its level
 * (`info` adds one line per request); JSON lines written asynchronously, or pretty-printed by
 * pino-pretty (in its own thread) when `NODE_ENV=development` and it is installed.
 */
export function createLogger(config: AppConfig): Logger {
  const options: LoggerOptions = {
    level: config.logLevel,
    redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
    timestamp: pino.stdTimeFunctions.isoTime,
  };
  if (config.nodeEnv === 'development' && config.logLevel !== 'silent' && prettyAvailable()) {
    return pino(
      options,
      pino.transport({
        target: 'pino-pretty',
        options: { translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' },
      }),
    );
  }
  // Tests write synchronously so a failing suite's last lines are not lost.
  return pino(options, pino.destination({ dest: 1, sync: config.nodeEnv === 'test' }));
}

type LogArgs = Parameters<FastifyBaseLogger['info']>;

/**
 * Fastify's `childLoggerFactory`: each request's logger (`request.log`, the request id bound),
 * made only when something logs through it. Fastify's default makes a pino child for every
 * request, ~6 µs (bindings serialised, redaction set up) that a request which logs nothing (at
 * `warn`, nearly all of them) pays for nothing; measured on the cached feed page.
 */
export function lazyChildLogger(
  logger: FastifyBaseLogger,
  bindings: Bindings,
  opts: ChildLoggerOptions,
): FastifyBaseLogger {
  return new LazyChildLogger(logger, bindings, opts) as unknown as FastifyBaseLogger;
}

/** One object and no closures per request: methods on the prototype (it runs on every request). */
class LazyChildLogger {
  private made: FastifyBaseLogger | undefined;

  constructor(
    private readonly parent: FastifyBaseLogger,
    private readonly bindings: Bindings,
    private readonly opts: ChildLoggerOptions,
  ) {}

  get level(): string {
    return this.made?.level ?? this.opts.level ?? this.parent.level;
  }

  set level(level: string) {
    this.real().level = level;
  }

  child(bindings: Bindings, opts?: ChildLoggerOptions): FastifyBaseLogger {
    return this.real().child(bindings, opts);
  }

  fatal(...args: LogArgs): void {
    this.real().fatal(...args);
  }

  error(...args: LogArgs): void {
    this.real().error(...args);
  }

  warn(...args: LogArgs): void {
    this.real().warn(...args);
  }

  info(...args: LogArgs): void {
    this.real().info(...args);
  }

  debug(...args: LogArgs): void {
    this.real().debug(...args);
  }

  trace(...args: LogArgs): void {
    this.real().trace(...args);
  }

  private real(): FastifyBaseLogger {
    return (this.made ??= this.parent.child(this.bindings, this.opts));
  }
}

/** Nest's logger on the same pino instance, so framework and service logs are JSON lines too. */
export class PinoNestLogger implements LoggerService {
  constructor(private readonly logger: Logger) {}

  log(message: unknown, ...params: unknown[]): void {
    this.write('info', message, params);
  }

  error(message: unknown, ...params: unknown[]): void {
    this.write('error', message, params);
  }

  warn(message: unknown, ...params: unknown[]): void {
    this.write('warn', message, params);
  }

  debug(message: unknown, ...params: unknown[]): void {
    this.write('debug', message, params);
  }

  verbose(message: unknown, ...params: unknown[]): void {
    this.write('trace', message, params);
  }

  fatal(message: unknown, ...params: unknown[]): void {
    this.write('fatal', message, params);
  }

  /** Nest passes `(message, ...extra, context)`; for errors `extra` may be a stack. */
  private write(level: Level, message: unknown, params: unknown[]): void {
    if (!this.logger.isLevelEnabled(level)) return;
    const rest = [...params];
    const context =
      rest.length > 0 && typeof rest[rest.length - 1] === 'string' ? (rest.pop() as string) : undefined;
    const stack = rest.find((p): p is string => typeof p === 'string');
    if (message instanceof Error) {
      this.logger[level]({ context, err: message }, message.message);
    } else if (typeof message === 'object' && message !== null) {
      this.logger[level]({ context, ...(message as Record<string, unknown>) });
    } else {
      this.logger[level]({ context, ...(stack ? { stack } : {}) }, String(message));
    }
  }
}
