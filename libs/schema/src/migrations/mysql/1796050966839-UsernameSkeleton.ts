import { MigrationInterface, QueryRunner } from 'typeorm';
import { backfillUsernameSkeletons } from '../username-skeleton-backfill';

export class UsernameSkeleton1796050966839 implements MigrationInterface {
  name = 'UsernameSkeleton1796050966839';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `ALTER TABLE \`accounts\` ADD \`username_skeleton\` varchar(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NULL`,
    );
    await backfillUsernameSkeletons(queryRunner);
    await queryRunner.query(
      `ALTER TABLE \`accounts\` ADD UNIQUE INDEX \`uq_accounts_username_skeleton\` (\`username_skeleton\`)`,
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP INDEX \`uq_accounts_username_skeleton\` ON \`accounts\``);
    await queryRunner.query(`ALTER TABLE \`accounts\` DROP COLUMN \`username_skeleton\``);
  }
}
