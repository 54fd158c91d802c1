import { MigrationInterface, QueryRunner } from 'typeorm';

export class ProcessedEventsByTime1795695405902 implements MigrationInterface {
  name = 'ProcessedEventsByTime1795695405902';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `CREATE INDEX "ix_processed_events_processed_at" ON "processed_events" ("processed_at") `,
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP INDEX "ix_processed_events_processed_at"`);
  }
}
