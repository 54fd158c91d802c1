import { Injectable, Logger } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import { MoreThanOrEqual } from 'typeorm';
import { Database, isDuplicateKey } from '../database/database.service';
import { fieldError } from '../errors/domain-error';
import { nowMs, sleep } from '../time/clock';
import { IdempotencyKeyEntity } from './idempotency-key.entity';

/** A retry with the same key by the same account within this window replays the first response. */
export const IDEMPOTENCY_WINDOW_MS = 24 * 60 * 60 * 1000;
const KEY_PATTERN = /^[\x21-\x7e]{1,128}$/;

export interface IdempotencyScope {
  accountId: number;
  /** The route, e.g. `video/publish`. */
  route: string;
  key: string;
}

/** Records the response inside the caller's transaction, next to the source row. */
export type SaveResponse<T> = (manager: EntityManager, response: T) => Promise<void>;

/**
 * `Idempotency-Key` for create routes (SPEC §1). The key row is inserted in the same
 * transaction as the source row, so the unique key `(account_id, route, idem_key)` makes a
 * concurrent duplicate fail as a whole; the loser then reads and replays the winner's response.
 */
@Injectable()
export class IdempotencyService {
  private readonly logger = new Logger(IdempotencyService.name);

  constructor(private readonly db: Database) {}

  /** Validates a raw header value: printable ASCII, 1–128 characters. */
  static parseKey(raw: unknown): string | undefined {
    if (raw === undefined) return undefined;
    if (typeof raw !== 'string' || !KEY_PATTERN.test(raw)) {
      throw fieldError('Idempotency-Key', 'must be 1–128 printable ASCII characters');
    }
    return raw;
  }

  /**
   * Runs `work` once per scope. `work` must call `save(manager, response)` inside its
   * transaction after writing the source rows. Without a scope it simply runs `work`.
   */
  async once<T>(scope: IdempotencyScope | null, work: (save: SaveResponse<T>) => Promise<T>): Promise<T> {
    if (!scope) return work(async () => undefined);
    const prior = await this.find<T>(scope);
    if (prior !== null) return prior;
    try {
      return await work((manager, response) => this.save(manager, scope, response));
    } catch (err) {
      if (!isDuplicateKey(err)) throw err;
      // A concurrent request with the same key committed first (or is about to): replay it.
      for (let attempt = 0; attempt < 20; attempt++) {
        const stored = await this.find<T>(scope);
        if (stored !== null) return stored;
        await sleep(25);
      }
      this.logger.warn(`duplicate key without a stored response for ${scope.route}`);
      throw err;
    }
  }

  private async find<T>(scope: IdempotencyScope): Promise<T | null> {
    const row = await this.db.manager.findOne(IdempotencyKeyEntity, {
      where: {
        accountId: scope.accountId,
        route: scope.route,
        idemKey: scope.key,
        createTime: MoreThanOrEqual(nowMs() - IDEMPOTENCY_WINDOW_MS),
      },
    });
    return row ? (JSON.parse(row.response) as T) : null;
  }

  private async save<T>(manager: EntityManager, scope: IdempotencyScope, response: T): Promise<void> {
    const now = nowMs();
    // An expired row with the same key would block the insert: the key is free again after 24 h.
    await manager
      .createQueryBuilder()
      .delete()
      .from(IdempotencyKeyEntity)
      .where('account_id = :a AND route = :r AND idem_key = :k AND create_time < :t', {
        a: scope.accountId,
        r: scope.route,
        k: scope.key,
        t: now - IDEMPOTENCY_WINDOW_MS,
      })
      .execute();
    await manager.insert(IdempotencyKeyEntity, {
      accountId: scope.accountId,
      route: scope.route,
      idemKey: scope.key,
      response: JSON.stringify(response),
      createTime: now,
    });
  }
}
