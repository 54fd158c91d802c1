import type { RedisClient } from './cache-store';

type ScriptCommand = (...args: (string | number)[]) => Promise<unknown>;

/**
 * A Lua script run through ioredis's `defineCommand` (EVALSHA, and EVAL once when the server does
 * not have it yet). Every script here takes a fixed number of keys, sharing one hash tag where they
 * are used together (Cluster).
 *
 * Scripts are defined on a client when it is created ({@link RedisScript.defineAll}), never later:
 * with auto-pipelining, a command defined while a pipeline of the same tick is open is missing from
 * that pipeline, which then rejects it and answers its other callbacks from a short result list:
 * an uncaught `results[i] is not iterable` in ioredis that ends the process (ioredis #1931). A
 * script created after its client (none today) runs as a plain EVAL instead.
 */
export class RedisScript {
  private static readonly all: RedisScript[] = [];

  /**
   * `numberOfKeys` 'any': the caller gives as many keys as it has (ioredis then takes the count as
   * the command's first argument). Only for one server: on a cluster the keys may be in many slots.
   */
  constructor(
    private readonly name: string,
    private readonly numberOfKeys: number | 'any',
    private readonly lua: string,
  ) {
    RedisScript.all.push(this);
  }

  /** Defines every script created so far on a new client, before it sends anything. */
  static defineAll(redis: RedisClient): void {
    for (const s of RedisScript.all) {
      redis.defineCommand(
        s.name,
        s.numberOfKeys === 'any' ? { lua: s.lua } : { numberOfKeys: s.numberOfKeys, lua: s.lua },
      );
    }
  }

  run(redis: RedisClient, keys: readonly string[], args: readonly (string | number)[]): Promise<unknown> {
    if (this.numberOfKeys !== 'any' && keys.length !== this.numberOfKeys) {
      throw new Error(`${this.name} takes ${this.numberOfKeys} keys, got ${keys.length}`);
    }
    const command = (redis as unknown as Record<string, ScriptCommand | undefined>)[this.name];
    if (typeof command !== 'function') return redis.eval(this.lua, keys.length, ...keys, ...args);
    return this.numberOfKeys === 'any'
      ? command.call(redis, keys.length, ...keys, ...args)
      : command.call(redis, ...keys, ...args);
  }
}
