import { createHash } from 'node:crypto';
import type { RedisClient } from './cache-store';

type ScriptCommand = (...args: (string | number)[]) => Promise<unknown>;

/**
 * A Lua script run through ioredis's `defineCommand` (EVALSHA, and EVAL once when the server does
 * not have it yet); one with a varying number of keys by EVALSHA itself, loaded the same way. Every
 * script here takes keys sharing one hash tag where they are used together (Cluster).
 *
 * Scripts are defined on a client when it is created ({@link RedisScript.defineAll}), never later:
 * with auto-pipelining, a command defined while a pipeline of the same tick is open is missing from
 * that pipeline, which then rejects it and answers its other callbacks from a short result list:
 * an uncaught `results[i] is not iterable` in ioredis that ends the process (ioredis #1931). A
 * script created after its client (none today) runs as a plain EVAL instead.
 */
export class RedisScript {
  private static readonly all: RedisScript[] = [];
  private readonly sha: string;

  /**
   * `numberOfKeys` 'any': the caller gives as many keys as it has (keys of one slot on a cluster).
   * Such a script is not a defined command: ioredis's auto-pipelining routes a defined command by
   * its first argument, which would be the key count; it goes as EVALSHA (routed by its keys), and
   * as EVAL when the server answers NOSCRIPT.
   */
  constructor(
    private readonly name: string,
    private readonly numberOfKeys: number | 'any',
    private readonly lua: string,
  ) {
    this.sha = createHash('sha1').update(lua).digest('hex');
    RedisScript.all.push(this);
  }

  /** Defines every script created so far on a new client, before it sends anything. */
  static defineAll(redis: RedisClient): void {
    for (const s of RedisScript.all) {
      if (s.numberOfKeys !== 'any') redis.defineCommand(s.name, { numberOfKeys: s.numberOfKeys, lua: s.lua });
    }
  }

  run(redis: RedisClient, keys: readonly string[], args: readonly (string | number)[]): Promise<unknown> {
    if (this.numberOfKeys === 'any') return this.evalsha(redis, keys, args);
    if (keys.length !== this.numberOfKeys) {
      throw new Error(`${this.name} takes ${this.numberOfKeys} keys, got ${keys.length}`);
    }
    const command = (redis as unknown as Record<string, ScriptCommand | undefined>)[this.name];
    if (typeof command !== 'function') return redis.eval(this.lua, keys.length, ...keys, ...args);
    return command.call(redis, ...keys, ...args);
  }

  private async evalsha(
    redis: RedisClient,
    keys: readonly string[],
    args: readonly (string | number)[],
  ): Promise<unknown> {
    try {
      return await redis.evalsha(this.sha, keys.length, ...keys, ...args);
    } catch (err) {
      if (!(err instanceof Error) || !err.message.startsWith('NOSCRIPT')) throw err;
      return redis.eval(this.lua, keys.length, ...keys, ...args);
    }
  }
}
