import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';

type Job = { op: 'hash'; password: string; cost: number } | { op: 'compare'; password: string; hash: string };

interface Task {
  job: Job;
  resolve(value: string | boolean): void;
  reject(err: Error): void;
}

/**
 * The worker's code: bcryptjs (pure JavaScript, so no platform build) run synchronously on its
 * own thread. Evaluated from a string so the same code runs from `dist/` and under ts-jest; the
 * module is loaded by its resolved path.
 */
const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads');
const bcrypt = require(${JSON.stringify(require.resolve('bcryptjs'))});
parentPort.on('message', (job) => {
  try {
    const value = job.op === 'hash' ? bcrypt.hashSync(job.password, job.cost) : bcrypt.compareSync(job.password, job.hash);
    parentPort.postMessage({ ok: true, value });
  } catch (err) {
    parentPort.postMessage({ ok: false, error: String(err && err.message || err) });
  }
});`;

/**
 * bcryptjs on `worker_threads`: bcryptjs blocks the thread it runs on for ~60 ms per cost-10
 * hash, even through its async API, so it runs on at most `size` worker threads (default
 * cores − 1, at least 1), one hash each at a time; further calls queue in order. The event loop
 * only posts and receives messages. Workers start on first use, are unref'd (they never keep a
 * process alive) and are replaced if one dies.
 */
export class BcryptPool {
  private readonly idle: Worker[] = [];
  private readonly busy = new Map<Worker, Task>();
  private readonly queue: Task[] = [];
  private closed = false;

  constructor(readonly size = Math.max(1, availableParallelism() - 1)) {}

  hash(password: string, cost: number): Promise<string> {
    return this.run({ op: 'hash', password, cost }) as Promise<string>;
  }

  compare(password: string, hash: string): Promise<boolean> {
    return this.run({ op: 'compare', password, hash }) as Promise<boolean>;
  }

  /** Hashes running or waiting (for tests and metrics). */
  get pending(): number {
    return this.busy.size + this.queue.length;
  }

  /** Hashes running now (never more than {@link size}). */
  get running(): number {
    return this.busy.size;
  }

  private run(job: Job): Promise<string | boolean> {
    if (this.closed) return Promise.reject(new Error('the password hasher is closed'));
    return new Promise((resolve, reject) => {
      this.queue.push({ job, resolve, reject });
      this.dispatch();
    });
  }

  private dispatch(): void {
    while (this.queue.length > 0) {
      const worker = this.idle.pop() ?? (this.busy.size < this.size ? this.spawn() : undefined);
      if (!worker) return;
      const task = this.queue.shift()!;
      this.busy.set(worker, task);
      worker.postMessage(task.job);
    }
  }

  private spawn(): Worker {
    const worker = new Worker(WORKER_SOURCE, { eval: true });
    worker.unref();
    worker.on('message', (msg: { ok: boolean; value?: string | boolean; error?: string }) => {
      const task = this.busy.get(worker);
      this.busy.delete(worker);
      if (!this.closed) this.idle.push(worker);
      if (task) {
        if (msg.ok) task.resolve(msg.value!);
        else task.reject(new Error(msg.error ?? 'bcrypt failed'));
      }
      this.dispatch();
    });
    const lost = (err: Error): void => {
      const task = this.busy.get(worker);
      this.busy.delete(worker);
      const i = this.idle.indexOf(worker);
      if (i >= 0) this.idle.splice(i, 1);
      task?.reject(err);
      if (!this.closed) this.dispatch();
    };
    worker.on('error', lost);
    worker.on('exit', (code) => lost(new Error(`bcrypt worker exited with code ${code}`)));
    return worker;
  }

  /** Terminates the threads; calls waiting or running are rejected. */
  async close(): Promise<void> {
    this.closed = true;
    for (const t of this.queue.splice(0)) t.reject(new Error('the password hasher is closed'));
    const all = [...this.idle, ...this.busy.keys()];
    this.idle.length = 0;
    await Promise.all(all.map((w) => w.terminate()));
  }
}
