import { Injectable } from '@nestjs/common';
import { hash, verify } from '@node-rs/bcrypt';
import { availableParallelism } from 'node:os';

const COST = 10;

/** A counting semaphore: at most `max` tasks run at once, the rest queue in order. */
class Semaphore {
  private active = 0;
  private readonly waiting: (() => void)[] = [];
  constructor(private readonly max: number) {}

  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.active >= this.max) await new Promise<void>((r) => this.waiting.push(r));
    else this.active++;
    try {
      return await task();
    } finally {
      const next = this.waiting.shift();
      if (next) next();
      else this.active--;
    }
  }
}

/**
 * bcrypt (cost 10) off the event loop (libuv thread pool), and at most (cores − 1) hashes at
 * once, so a burst of logins always leaves a core for the event loop: cheap routes stay fast.
 */
@Injectable()
export class PasswordHasher {
  private dummy: Promise<string> | undefined;
  private readonly slots = new Semaphore(Math.max(1, availableParallelism() - 1));

  hash(password: string): Promise<string> {
    return this.slots.run(() => hash(password, { cost: COST }));
  }

  verify(password: string, passwordHash: string): Promise<boolean> {
    return this.slots.run(() => verify(password, passwordHash));
  }

  /** Spends one verify against a dummy hash, so an unknown username costs what a known one does. */
  async burn(password: string): Promise<void> {
    this.dummy ??= hash('dummy-password-for-timing', { cost: COST });
    const dummy = await this.dummy;
    await this.slots.run(() => verify(password, dummy));
  }
}
