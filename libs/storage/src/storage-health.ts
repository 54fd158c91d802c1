import { Inject, Injectable, Logger, Optional } from '@nestjs/common';
import { FILE_STORAGE } from './file-storage';
import type { FileStorage, StorageState } from './file-storage';

/** Injection token for {@link StorageHealthOptions} (tests shorten the cache). */
export const STORAGE_HEALTH_OPTIONS = Symbol('STORAGE_HEALTH_OPTIONS');

export interface StorageHealthOptions {
  /** A probe's answer is reused this long. */
  ttlMs: number;
  /** A probe that has not answered by then counts as `down`. */
  timeoutMs: number;
}

export const DEFAULT_STORAGE_HEALTH: StorageHealthOptions = { ttlMs: 5000, timeoutMs: 1000 };

/**
 * The file storage's state for `/healthz`: one bounded probe ({@link FileStorage.ping}) at most
 * every `ttlMs`, shared by every caller meanwhile, so polling `/healthz` costs the store (an S3
 * HeadBucket) nothing more. Changes of state are logged.
 */
@Injectable()
export class StorageHealth {
  private readonly logger = new Logger(StorageHealth.name);
  private readonly options: StorageHealthOptions;
  private last: { state: StorageState; at: number } | null = null;
  private probing: Promise<StorageState> | null = null;

  constructor(
    @Inject(FILE_STORAGE) private readonly storage: FileStorage,
    @Optional() @Inject(STORAGE_HEALTH_OPTIONS) options?: StorageHealthOptions,
  ) {
    this.options = options ?? DEFAULT_STORAGE_HEALTH;
  }

  state(): Promise<StorageState> {
    if (this.last && performance.now() - this.last.at < this.options.ttlMs) {
      return Promise.resolve(this.last.state);
    }
    this.probing ??= this.probe().finally(() => {
      this.probing = null;
    });
    return this.probing;
  }

  private async probe(): Promise<StorageState> {
    const signal = AbortSignal.timeout(this.options.timeoutMs);
    const timedOut = new Promise<StorageState>((resolve) =>
      signal.addEventListener('abort', () => resolve('down'), { once: true }),
    );
    const state = await Promise.race([this.storage.ping(signal).catch((): StorageState => 'down'), timedOut]);
    if ((this.last?.state ?? 'up') !== state) {
      if (state === 'down') this.logger.warn('file storage is down (its health probe failed)');
      else this.logger.log('file storage is up again');
    }
    this.last = { state, at: performance.now() };
    return state;
  }
}
