import { Column, Entity, PrimaryColumn } from 'typeorm';
import { bigintAsNumber } from './column-types';

/** A named duty that one process performs at a time (the outbox relay, the pruning, the reconciliation). */
@Entity('leases')
export class LeaseEntity {
  @PrimaryColumn({ type: 'varchar', length: 64 })
  name!: string;

  /** `<host>:<pid>:<random>` of the process holding it ('' when free). */
  @Column({ type: 'varchar', length: 128 })
  holder!: string;

  /** Unix ms; past it, anyone may take the lease over. */
  @Column({ name: 'expires_at', type: 'bigint', transformer: bigintAsNumber })
  expiresAt!: number;
}
