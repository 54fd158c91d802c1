import { Injectable, OnModuleDestroy } from '@nestjs/common';
import { BcryptPool } from './bcrypt-pool';

/** bcrypt cost (SPEC §3.1). Hashes of any cost and of the `$2a$`/`$2b$` variants verify. */
export const BCRYPT_COST = 10;

/**
 * Password hashing with bcryptjs, off the event loop: a {@link BcryptPool} of at most
 * (cores − 1) worker threads, so a burst of logins always leaves a core for the event loop and
 * cheap routes stay fast (`npm run bench:login-stall`).
 */
@Injectable()
export class PasswordHasher implements OnModuleDestroy {
  private dummy: Promise<string> | undefined;
  private readonly pool = new BcryptPool();

  hash(password: string): Promise<string> {
    return this.pool.hash(password, BCRYPT_COST);
  }

  verify(password: string, passwordHash: string): Promise<boolean> {
    return this.pool.compare(password, passwordHash);
  }

  /** Spends one verify against a dummy hash, so an unknown username costs what a known one does. */
  async burn(password: string): Promise<void> {
    this.dummy ??= this.pool.hash('dummy-password-for-timing', BCRYPT_COST);
    await this.pool.compare(password, await this.dummy);
  }

  async onModuleDestroy(): Promise<void> {
    await this.pool.close();
  }
}
