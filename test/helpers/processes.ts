import { execSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';

const ROOT = join(__dirname, '..', '..');
export const API_MAIN = join(ROOT, 'dist/apps/api/src/main.js');
export const WORKER_MAIN = join(ROOT, 'dist/apps/worker/src/main.js');

/** Builds the server once if `dist` is missing (`npm run build:server` before process-level tests). */
export function ensureBuilt(): void {
  if (existsSync(API_MAIN) && existsSync(WORKER_MAIN)) return;
  execSync('npm run --silent build:server', { cwd: ROOT, stdio: 'inherit' });
}

export async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as { port: number }).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

/** A server could not bind a port picked for it: another process took it after it was picked. */
export class PortTaken extends Error {}

/** A free port that is neither `shared` (a service the machine runs) nor in `taken`; adds it there. */
export async function sparePort(taken: Set<number>, shared: number): Promise<number> {
  for (;;) {
    const p = await freePort();
    if (p !== shared && !taken.has(p)) {
      taken.add(p);
      return p;
    }
  }
}

/**
 * A test server's first start: `pick` chooses its spare ports right before `start` (a port chosen
 * earlier may be bound by another suite's process meanwhile), and again, up to `attempts` times,
 * while `start` throws {@link PortTaken}.
 */
export async function startOnSparePorts(
  pick: () => Promise<void>,
  start: () => Promise<void>,
  attempts = 5,
): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    await pick();
    try {
      await start();
      return;
    } catch (err) {
      if (!(err instanceof PortTaken) || attempt === attempts) throw err;
    }
  }
}

/** A spawned api or worker process. */
export interface ServerProcess {
  proc: ChildProcess;
  /** Last lines of its stdout/stderr, for failure messages. */
  output(): string;
  /** Sends `signal` and resolves with the exit code (or signal name) once it is gone. */
  kill(signal?: NodeJS.Signals, timeoutMs?: number): Promise<number | string | null>;
}

export interface ApiProcess extends ServerProcess {
  port: number;
  url: string;
}

/** Called with each line a spawned process prints, while it starts and after. */
export type OnLine = (line: string) => void;

function track(proc: ChildProcess, onLine?: OnLine): ServerProcess {
  const lines: string[] = [];
  const keep = (chunk: Buffer): void => {
    const added = chunk.toString('utf8').split('\n').filter(Boolean);
    lines.push(...added);
    if (onLine) for (const line of added) onLine(line);
    if (lines.length > 200) lines.splice(0, lines.length - 200);
  };
  proc.stdout?.on('data', keep);
  proc.stderr?.on('data', keep);
  const exited = new Promise<number | string | null>((resolve) =>
    proc.once('exit', (code, signal) => resolve(code ?? signal)),
  );
  return {
    proc,
    output: () => lines.join('\n'),
    kill: async (signal = 'SIGTERM', timeoutMs = 15000) => {
      if (proc.exitCode !== null || proc.signalCode !== null) return proc.exitCode ?? proc.signalCode;
      proc.kill(signal);
      const timer = setTimeout(() => proc.kill('SIGKILL'), timeoutMs);
      const result = await exited;
      clearTimeout(timer);
      return result;
    },
  };
}

/**
 * Starts the built api on `port` (a free one by default) and waits until `/healthz` answers 200;
 * `onLine` sees its output as it comes, before that.
 */
export async function spawnApi(
  env: Record<string, string>,
  port?: number,
  onLine?: OnLine,
): Promise<ApiProcess> {
  ensureBuilt();
  const p = port ?? (await freePort());
  const proc = spawn(process.execPath, [API_MAIN], {
    env: { ...process.env, ...env, PORT: String(p), HOST: '127.0.0.1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const t = track(proc, onLine);
  const url = `http://127.0.0.1:${p}`;
  const deadline = Date.now() + 60000;
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`api exited with ${proc.exitCode}:\n${t.output()}`);
    try {
      const res = await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(1000) });
      if (res.status === 200) break;
    } catch {
      /* not listening yet */
    }
    if (Date.now() > deadline) {
      await t.kill('SIGKILL');
      throw new Error(`api did not become healthy:\n${t.output()}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return { ...t, port: p, url };
}

/** Starts the built worker and waits for its ready message (sent once it consumes); `onLine` as for the api. */
export async function spawnWorker(env: Record<string, string>, onLine?: OnLine): Promise<ServerProcess> {
  ensureBuilt();
  const proc = spawn(process.execPath, [WORKER_MAIN], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
  const t = track(proc, onLine);
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      reject(new Error(`worker not ready in 60 s:\n${t.output()}`));
      void t.kill('SIGKILL');
    }, 60000);
    proc.on('message', (m: { type?: string }) => {
      if (m?.type === 'ready') {
        clearTimeout(timer);
        resolve();
      }
    });
    proc.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`worker exited with ${code}:\n${t.output()}`));
    });
  });
  proc.disconnect?.();
  return t;
}
