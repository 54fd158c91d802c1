import { DataSource } from 'typeorm';
import type { AppConfig } from '../config/app-config';
import { buildDataSourceOptions } from './data-source-options';
import { isConnectionError } from './database.service';

/** The first retry's delay; each next one doubles, up to {@link MAX_DELAY_MS}. */
const FIRST_DELAY_MS = 250;
const MAX_DELAY_MS = 5000;

/**
 * Runs a process's first step that needs the database (the api's migrations, the worker's start)
 * again while it fails because the database is unreachable (`isConnectionError`: refused, lost,
 * timed out), with capped exponential backoff, for at most `waitMs` (`DB_STARTUP_WAIT_MS`; 0 =
 * once). Any other error, and the last one once the wait is over, is thrown: the process exits
 * and its supervisor decides. `onRetry` is told each failure and the delay before the next try.
 */
export async function whileDatabaseUnreachable<T>(
  step: () => Promise<T>,
  waitMs: number,
  onRetry: (err: unknown, delayMs: number) => void,
): Promise<T> {
  const until = Date.now() + waitMs;
  for (let delay = FIRST_DELAY_MS; ; delay = Math.min(delay * 2, MAX_DELAY_MS)) {
    try {
      return await step();
    } catch (err) {
      const left = until - Date.now();
      if (!isStartupConnectionError(err) || left <= 0) throw err;
      const wait = Math.min(delay, left);
      onRetry(err, wait);
      await new Promise((r) => setTimeout(r, wait));
    }
  }
}

/** {@link isConnectionError}, or a host name not resolved yet (a container starting beside it). */
function isStartupConnectionError(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return isConnectionError(err) || code === 'ENOTFOUND' || code === 'EAI_AGAIN';
}

/**
 * Connects to the configured database once and disconnects: throws what connecting threw (the
 * worker's first step, before its modules open connections of their own). SQLite: nothing to wait for.
 */
export async function connectOnce(config: AppConfig): Promise<void> {
  if (config.database.type === 'sqlite') return;
  const ds = new DataSource(
    buildDataSourceOptions(
      config,
      { entities: [], migrations: { mysql: [], sqlite: [] } },
      { statementTimeoutMs: 0 },
    ),
  );
  await ds.initialize();
  await ds.destroy();
}

/** An error in one line for a log: its message (or name) and its code when the message lacks it. */
export function describeError(err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code;
  const text = err instanceof Error ? err.message || err.name : String(err);
  return typeof code === 'string' && !text.includes(code) ? `${text} ${code}` : text;
}
