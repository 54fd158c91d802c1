import { spawn, type ChildProcess } from 'node:child_process';
import { request as httpRequest } from 'node:http';
import { connect } from 'node:net';
import type { AddressInfo } from 'node:net';
import type { TestApp } from '../helpers/test-app';
import { API_MAIN, ensureBuilt, freePort } from '../helpers/processes';

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Starts the in-process test app listening on a loopback port (for raw sockets and fetch). */
export async function listen(t: TestApp): Promise<string> {
  await t.app.listen({ port: 0, host: '127.0.0.1' });
  const { port } = t.app.getHttpServer().address() as AddressInfo;
  return `http://127.0.0.1:${port}`;
}

/**
 * The compiled api entry for process-level attacks (a small heap, a production NODE_ENV):
 * `dist/` as built by `npm test` (built here if missing), or `FSV_API_MAIN` to point at another
 * build (its node_modules found through `NODE_PATH`).
 */
function apiEntry(): string {
  if (process.env.FSV_API_MAIN) return process.env.FSV_API_MAIN;
  ensureBuilt();
  return API_MAIN;
}

export interface ApiChild {
  url: string;
  proc: ChildProcess;
  /** Everything it printed so far. */
  output(): string;
  /** Resolves with the exit code (or signal) once it has exited. */
  exited: Promise<number | string | null>;
  stop(): Promise<void>;
}

/** Runs the built api as a child process; with `wait`, resolves once `/healthz` answers 200. */
export async function spawnApiProcess(
  env: Record<string, string>,
  opts: { nodeArgs?: string[]; wait?: boolean } = {},
): Promise<ApiChild> {
  const port = await freePort();
  const proc = spawn(process.execPath, [...(opts.nodeArgs ?? []), apiEntry()], {
    env: { ...process.env, ...env, PORT: String(port), HOST: '127.0.0.1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const keep = (b: Buffer): void => {
    out = (out + b.toString('utf8')).slice(-2_000_000);
  };
  proc.stdout?.on('data', keep);
  proc.stderr?.on('data', keep);
  const exited = new Promise<number | string | null>((resolve) =>
    proc.once('exit', (code, signal) => resolve(code ?? signal)),
  );
  const child: ApiChild = {
    url: `http://127.0.0.1:${port}`,
    proc,
    output: () => out,
    exited,
    stop: async () => {
      if (proc.exitCode === null && proc.signalCode === null) {
        proc.kill('SIGTERM');
        const timer = setTimeout(() => proc.kill('SIGKILL'), 10_000);
        await exited;
        clearTimeout(timer);
      }
    },
  };
  if (opts.wait === false) return child;
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`api exited with ${proc.exitCode}:\n${out.slice(-4000)}`);
    try {
      if ((await fetch(`${child.url}/healthz`, { signal: AbortSignal.timeout(1000) })).status === 200) break;
    } catch {
      /* not listening yet */
    }
    if (Date.now() > deadline) {
      await child.stop();
      throw new Error(`api did not become healthy:\n${out.slice(-4000)}`);
    }
    await sleep(100);
  }
  return child;
}

export interface RawResult {
  /** What the server sent before it closed (or before `waitMs`). */
  data: string;
  /** Ms from connecting until the server closed the connection, or null if it was still open. */
  closedAfterMs: number | null;
}

/**
 * Opens a TCP connection, writes `chunks` (strings, or pauses in ms between them), and collects
 * what comes back until the server closes the connection or `waitMs` passes.
 */
export function rawExchange(port: number, chunks: (string | number)[], waitMs: number): Promise<RawResult> {
  return new Promise((resolve) => {
    const started = Date.now();
    const socket = connect(port, '127.0.0.1');
    let data = '';
    let done = false;
    const finish = (closed: boolean): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      resolve({ data, closedAfterMs: closed ? Date.now() - started : null });
    };
    const timer = setTimeout(() => finish(false), waitMs);
    socket.on('data', (b) => (data += b.toString('latin1')));
    socket.on('close', () => finish(true));
    socket.on('error', () => finish(true));
    socket.on('connect', () => {
      void (async () => {
        for (const c of chunks) {
          if (done) return;
          if (typeof c === 'number') await sleep(c);
          else socket.write(c);
        }
      })();
    });
  });
}

/** A POST with a JSON body through node:http (no pooling), resolving the status or the socket error. */
export function postJson(url: string, body: string): Promise<number | string> {
  return new Promise((resolve) => {
    const req = httpRequest(
      url,
      {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(body),
          connection: 'close',
        },
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
        res.on('error', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? 'error'));
    req.end(body);
  });
}

/** Runs `fn` over `items` with at most `concurrency` at a time. */
export async function pool<T, R>(items: T[], concurrency: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array<R>(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        out[i] = await fn(items[i]);
      }
    }),
  );
  return out;
}

/** A Prometheus gauge's value from `/metrics` text. */
export function metricValue(text: string, name: string): number {
  const m = new RegExp(`^${name}(?:\\{[^}]*\\})? ([0-9.e+-]+)$`, 'm').exec(text);
  if (!m) throw new Error(`${name} not in metrics`);
  return Number(m[1]);
}
