import type { LoggerService } from '@nestjs/common';
import pino, { type Level, type Logger, type LoggerOptions } from 'pino';
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
