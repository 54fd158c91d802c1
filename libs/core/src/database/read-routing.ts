import { AsyncLocalStorage } from 'node:async_hooks';

/**
 * One HTTP request's view of consistency: who the caller is (if anyone), and whether the request
 * itself wrote. Reads through {@link ReplicaReader} consult it to choose the primary or a replica.
 */
export interface ReadSession {
  accountId?: number;
  wrote: boolean;
  /** Cached per request: did the caller write within the sticky window (one lookup per request)? */
  sticky?: Promise<boolean>;
}

/**
 * Where "this account wrote recently" is shared between processes (Redis, set up by the cache
 * module), so a caller whose write went to one api process reads its write on another.
 */
export interface SharedWriteMarks {
  mark(accountId: number, ttlMs: number): Promise<boolean>;
  /** True or false, or undefined when the shared store cannot tell (down). */
  isMarked(accountId: number): Promise<boolean | undefined>;
}

const sessions = new AsyncLocalStorage<ReadSession>();
const primaryOnly = new AsyncLocalStorage<true>();
/** Set around a read that may use a replica: the pool cluster then hands out a replica's connection. */
const replicaReads = new AsyncLocalStorage<true>();

/** True while a {@link ReplicaReader} read that was allowed a replica runs (checked by the pool cluster). */
export function inReplicaRead(): boolean {
  return replicaReads.getStore() === true;
}

/** Runs `fn` outside any replica read: what it starts (a transaction, a write) takes primary connections. */
export function outsideReplicaRead<T>(fn: () => T): T {
  return replicaReads.exit(fn);
}

/** The current request (if any) writes: its later reads, and its caller's for a while, use the primary. */
export function noteWrite(): void {
  const s = sessions.getStore();
  if (s) s.wrote = true;
}

/** Accounts remembered in-process as recent writers (beyond this, the oldest are forgotten). */
const MAX_LOCAL_MARKS = 100_000;

/**
 * Read routing with read replicas (SPEC §7 read-your-writes). Reads that may be stale go through
 * {@link ReplicaReader}; they use a replica only inside an HTTP request (a {@link ReadSession})
 * that has not written, whose caller has not written within {@link stickyMs}, and outside
 * {@link onPrimary}. Everything else — transactions, locks, raw writes, background jobs, the
 * worker — uses the primary. Replicas that are down or lag are skipped below this, by the pool
 * cluster (replica-pool-cluster.ts).
 */
export class ReadRouting {
  readonly enabled: boolean;
  /**
   * How long a writer's reads stay on the primary: a replica in use lags at most the max lag
   * (as of its last check), plus one check interval, plus a margin.
   */
  readonly stickyMs: number;
  private readonly recent = new Map<number, number>();
  private shared: SharedWriteMarks | null = null;

  constructor(replicas: number, maxLagSeconds: number, checkIntervalMs: number) {
    this.enabled = replicas > 0;
    this.stickyMs = maxLagSeconds * 1000 + checkIntervalMs + 1000;
  }

  /** Marks shared across processes (Redis); without them, recent writers are known per process. */
  shareWith(marks: SharedWriteMarks): void {
    this.shared = marks;
  }

  /** Runs `fn` (an HTTP request's handling) as one session of `accountId` (undefined: anonymous). */
  runSession<T>(session: ReadSession, fn: () => T): T {
    return sessions.run(session, fn);
  }

  /** Runs `fn` with every {@link ReplicaReader} read on the primary (e.g. a cache refill after an invalidation). */
  onPrimary<T>(fn: () => Promise<T>): Promise<T> {
    return primaryOnly.run(true, fn);
  }

  /** At the end of a session: a caller that wrote reads the primary for {@link stickyMs}. */
  async endSession(session: ReadSession): Promise<void> {
    if (!this.enabled || !session.wrote || session.accountId === undefined) return;
    await this.markWrite(session.accountId);
  }

  async markWrite(accountId: number): Promise<void> {
    this.recent.delete(accountId);
    this.recent.set(accountId, Date.now() + this.stickyMs);
    if (this.recent.size > MAX_LOCAL_MARKS) {
      const oldest = this.recent.keys().next();
      if (!oldest.done) this.recent.delete(oldest.value);
    }
    await this.shared?.mark(accountId, this.stickyMs);
  }

  /** May the current read be served by a replica? */
  async mayUseReplica(): Promise<boolean> {
    if (!this.enabled || primaryOnly.getStore()) return false;
    const s = sessions.getStore();
    if (!s || s.wrote) return false;
    if (s.accountId === undefined) return true;
    s.sticky ??= this.wroteRecently(s.accountId);
    return !(await s.sticky);
  }

  private async wroteRecently(accountId: number): Promise<boolean> {
    const until = this.recent.get(accountId);
    if (until !== undefined && until > Date.now()) return true;
    if (!this.shared) return false;
    // Unknown (the shared store is down): the primary, so no writer misses its own write.
    return (await this.shared.isMarked(accountId)) ?? true;
  }
}

/**
 * The reads that may be stale (feeds, lists, details): on a replica when {@link ReadRouting}
 * allows, else on the primary. Without replicas (or on SQLite) this is the primary, at no cost.
 * The statements themselves are the usual ones (`Database.query`, repositories): only the
 * connection they get differs, chosen by the pool cluster while {@link inReplicaRead}.
 */
export class ReplicaReader {
  constructor(
    private readonly routing: ReadRouting,
    private readonly primaryQuery: <T>(sql: string, params: unknown[]) => Promise<T[]>,
  ) {}

  /** Raw SQL read with `?` placeholders. */
  query<T = Record<string, unknown>>(sql: string, params: unknown[] = []): Promise<T[]> {
    return this.run(() => this.primaryQuery<T>(sql, params));
  }

  /** Reads (repositories, query builders) that may be stale; nothing in `work` may write. */
  async run<T>(work: () => Promise<T>): Promise<T> {
    if (!(await this.routing.mayUseReplica())) return work();
    return replicaReads.run(true, work);
  }

  /** Runs `work` as a read already allowed a replica (its callers each asked {@link ReadRouting.mayUseReplica}). */
  runAllowed<T>(work: () => Promise<T>): Promise<T> {
    return replicaReads.run(true, work);
  }
}
