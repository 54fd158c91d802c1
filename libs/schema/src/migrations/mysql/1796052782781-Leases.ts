import { MigrationInterface, QueryRunner } from 'typeorm';

export class Leases1796052782781 implements MigrationInterface {
  name = 'Leases1796052782781';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `CREATE TABLE \`leases\` (\`name\` varchar(64) NOT NULL, \`holder\` varchar(128) NOT NULL, \`expires_at\` bigint NOT NULL, PRIMARY KEY (\`name\`)) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci`,
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE \`leases\``);
  }
}
