import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { nowMs } from '../time/clock';
import type { Database } from './database.service';

/** This process's name in `leases.holder`. */
export const LEASE_HOLDER = `${hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`.slice(0, 128);

/**
 * A duty that one process among several (N workers) performs at a time: a row in `leases` with a
 * holder and an expiry. `acquire()` takes the lease if it is free or expired, or renews it if this
 * process holds it — one autocommit UPDATE, atomic in both dialects. A holder that dies stops
 * renewing; after `ttlMs` the next `acquire()` of another process takes over. Holders renew well
 * within the ttl (every pass of their duty); clocks of the processes must agree within a fraction of
 * it (they compare `expires_at` with their own time).
 */
export class Lease {
  private created = false;

  constructor(
    private readonly db: Database,
    readonly name: string,
    readonly ttlMs: number,
    readonly holder: string = LEASE_HOLDER,
  ) {}

  /** True while this process holds the lease (taken or renewed now). */
  async acquire(): Promise<boolean> {
    if (!this.created) {
      const verb = this.db.dialect === 'mysql' ? 'INSERT IGNORE' : 'INSERT OR IGNORE';
      await this.db.execute(`${verb} INTO leases (name, holder, expires_at) VALUES (?, '', 0)`, [this.name]);
      this.created = true;
    }
    const now = nowMs();
    const n = await this.db.execute(
      'UPDATE leases SET holder = ?, expires_at = ? WHERE name = ? AND (holder = ? OR expires_at < ?)',
      [this.holder, now + this.ttlMs, this.name, this.holder, now],
    );
    return n === 1;
  }

  /** Gives the lease up (on a clean shutdown), so another process takes over at once. */
  async release(): Promise<void> {
    await this.db.execute('UPDATE leases SET holder = ?, expires_at = 0 WHERE name = ? AND holder = ?', [
      '',
      this.name,
      this.holder,
    ]);
  }

  /** The current holder and expiry (for tests and operators). */
  async current(): Promise<{ holder: string; expiresAt: number } | null> {
    const rows = await this.db.query<{ holder: string; expires_at: number }>(
      'SELECT holder, expires_at FROM leases WHERE name = ?',
      [this.name],
    );
    return rows[0] ? { holder: rows[0].holder, expiresAt: Number(rows[0].expires_at) } : null;
  }
}
