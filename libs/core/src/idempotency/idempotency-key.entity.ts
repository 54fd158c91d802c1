import { Column, Entity, Index, PrimaryGeneratedColumn } from 'typeorm';
import { bigintAsNumber } from '../database/column-types';

/** `Idempotency-Key` of a create route: the first response, replayed to retries for 24 h. */
@Entity('idempotency_keys')
@Index('uq_idempotency_keys', ['accountId', 'route', 'idemKey'], { unique: true })
@Index('ix_idempotency_keys_time', ['createTime'])
export class IdempotencyKeyEntity {
  @PrimaryGeneratedColumn()
  id!: number;

  @Column({ name: 'account_id', type: 'int' })
  accountId!: number;

  @Column({ type: 'varchar', length: 64 })
  route!: string;

  @Column({ name: 'idem_key', type: 'varchar', length: 128 })
  idemKey!: string;

  /** JSON of the first 2xx response. */
  @Column({ type: 'text' })
  response!: string;

  @Column({ name: 'create_time', type: 'bigint', transformer: bigintAsNumber })
  createTime!: number;
}
