import type { RedisClient } from './cache-store';

type ScriptCommand = (...args: (string | number)[]) => Promise<unknown>;

/**
 * A Lua script run through ioredis's `defineCommand` (EVALSHA, and EVAL once when the server does
 * not have it yet), defined on each client the first time it is used there. Every script here
 * takes a fixed number of keys, sharing one hash tag where they are used together (Cluster).
 */
export class RedisScript {
  constructor(
    private readonly name: string,
    private readonly numberOfKeys: number,
    private readonly lua: string,
  ) {}

  run(redis: RedisClient, keys: readonly string[], args: readonly (string | number)[]): Promise<unknown> {
    if (keys.length !== this.numberOfKeys) {
      throw new Error(`${this.name} takes ${this.numberOfKeys} keys, got ${keys.length}`);
    }
    const commands = redis as unknown as Record<string, ScriptCommand | undefined>;
    if (typeof commands[this.name] !== 'function') {
      redis.defineCommand(this.name, { numberOfKeys: this.numberOfKeys, lua: this.lua });
    }
    const command = commands[this.name];
    if (command === undefined) throw new Error(`ioredis did not define ${this.name}`);
    return command.call(redis, ...keys, ...args);
  }
}
