import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import Redis from 'ioredis';

/** The benchmarks' built server processes (`dist/`) and the private resources they run on. */
export const run = promisify(execFile);
export const ROOT = join(__dirname, '..', '..');
export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** The servers the benchmarks use: MYSQL_URL, REDIS_URL, AMQP_URL (without vhost); defaults local. */
export const MYSQL = process.env.MYSQL_URL ?? 'mysql://root@127.0.0.1:3306';
export const REDIS = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
export const AMQP = new URL(process.env.AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672');

/** `--name N` from the command line, else `fallback`. */
export function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
}

/**
 * Throws when one of `ports` is taken on 127.0.0.1. A server left from an interrupted run would
 * answer in place of the one a benchmark starts (whose own start then fails with EADDRINUSE), so
 * its figures would be that process's, not this build's.
 */
export async function assertPortsFree(ports: number[]): Promise<void> {
  for (const port of ports) {
    await new Promise<void>((resolve, reject) => {
      const probe = createServer();
      probe.once('error', (err: NodeJS.ErrnoException) =>
        reject(
          err.code === 'EADDRINUSE'
            ? new Error(`port ${port} is in use (a server left from an earlier run?): stop it first`)
            : err,
        ),
      );
      probe.listen(port, '127.0.0.1', () => probe.close(() => resolve()));
    });
  }
}

const NODE_ARGS = (process.env.BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean);

/** A built entry point as a child process with `env` (and BENCH_NODE_ARGS), stderr shown. */
export function spawnNode(script: string, env: Record<string, string>): ChildProcess {
  return spawn(process.execPath, [...NODE_ARGS, join(ROOT, script)], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
  });
}

/** The worker, once it reports ready (consuming). */
export async function startWorker(env: Record<string, string>): Promise<ChildProcess> {
  const p = spawnNode('dist/apps/worker/src/main.js', env);
  await new Promise<void>((resolve, reject) => {
    p.on('message', (m: { type?: string }) => m?.type === 'ready' && resolve());
    p.once('exit', (code) => reject(new Error(`worker exited with ${code}`)));
  });
  return p;
}

/** SIGTERM, and wait for the exit (a graceful drain). */
export async function stop(p: ChildProcess): Promise<void> {
  if (p.exitCode !== null) return;
  const gone = new Promise((r) => p.once('exit', r));
  p.kill('SIGTERM');
  await gone;
}

/** Deletes every key under `prefix` (the benchmark's own; never anything else). */
export async function deleteRedisPrefix(url: string, prefix: string): Promise<void> {
  const redis = new Redis(url);
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length) await redis.del(...keys);
  } while (cursor !== '0');
  redis.disconnect();
}
