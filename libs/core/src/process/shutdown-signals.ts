import { Logger } from '@nestjs/common';

/**
 * SIGTERM/SIGINT: `close()` once (a second signal is ignored), then the process exits 0, or 1 when
 * the close failed. The api's and the worker's main.ts.
 */
export function closeOnSignals(name: string, close: () => Promise<void>): void {
  let stopping = false;
  const shutdown = (signal: NodeJS.Signals): void => {
    if (stopping) return;
    stopping = true;
    new Logger(name).log(`${signal}: draining and shutting down`);
    close().then(
      () => process.exit(0),
      (err: unknown) => {
        console.error(`${name.toLowerCase()} shutdown failed:`, err);
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', shutdown);
  process.once('SIGINT', shutdown);
}
