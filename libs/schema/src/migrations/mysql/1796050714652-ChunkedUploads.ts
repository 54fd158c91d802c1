import { MigrationInterface, QueryRunner } from 'typeorm';

export class ChunkedUploads1796050714652 implements MigrationInterface {
  name = 'ChunkedUploads1796050714652';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `CREATE TABLE \`upload_sessions\` (\`id\` int NOT NULL AUTO_INCREMENT, \`upload_id\` varchar(32) NOT NULL, \`account_id\` int NOT NULL, \`filename\` varchar(255) NOT NULL, \`file_size\` bigint NOT NULL, \`chunk_size\` int NOT NULL, \`total_chunks\` int NOT NULL, \`file_hash\` varchar(32) NOT NULL, \`status\` smallint NOT NULL DEFAULT '0', \`result_key\` varchar(255) NOT NULL DEFAULT '', \`assembling_until\` bigint NOT NULL DEFAULT '0', \`create_time\` bigint NOT NULL, \`expires_at\` bigint NOT NULL, UNIQUE INDEX \`uq_upload_sessions_upload_id\` (\`upload_id\`), INDEX \`ix_upload_sessions_expires\` (\`expires_at\`), INDEX \`ix_upload_sessions_account\` (\`account_id\`, \`file_hash\`), PRIMARY KEY (\`id\`)) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci`,
    );
    await queryRunner.query(
      `CREATE TABLE \`upload_parts\` (\`id\` int NOT NULL AUTO_INCREMENT, \`session_id\` int NOT NULL, \`chunk_index\` int NOT NULL, \`storage_key\` varchar(255) NOT NULL, \`size\` int NOT NULL, \`create_time\` bigint NOT NULL, UNIQUE INDEX \`uq_upload_parts_chunk\` (\`session_id\`, \`chunk_index\`), PRIMARY KEY (\`id\`)) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci`,
    );
    await queryRunner.query(
      `CREATE TABLE \`file_deletions\` (\`id\` int NOT NULL AUTO_INCREMENT, \`storage_key\` varchar(255) NOT NULL, \`video_id\` int NOT NULL DEFAULT '0', \`attempts\` int NOT NULL DEFAULT '0', \`next_attempt_at\` bigint NOT NULL, \`create_time\` bigint NOT NULL, UNIQUE INDEX \`uq_file_deletions_storage_key\` (\`storage_key\`), INDEX \`ix_file_deletions_video\` (\`video_id\`), INDEX \`ix_file_deletions_due\` (\`next_attempt_at\`), PRIMARY KEY (\`id\`)) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci`,
    );
    await queryRunner.query(`ALTER TABLE \`uploads\` ADD \`referenced\` smallint NOT NULL DEFAULT '0'`);
    // Files uploaded before the collector existed are kept: only new uploads can be collected.
    await queryRunner.query(`UPDATE \`uploads\` SET \`referenced\` = 1`);
    await queryRunner.query(
      `CREATE INDEX \`ix_uploads_unreferenced\` ON \`uploads\` (\`referenced\`, \`create_time\`)`,
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP INDEX \`ix_uploads_unreferenced\` ON \`uploads\``);
    await queryRunner.query(`ALTER TABLE \`uploads\` DROP COLUMN \`referenced\``);
    await queryRunner.query(`DROP INDEX \`ix_file_deletions_due\` ON \`file_deletions\``);
    await queryRunner.query(`DROP INDEX \`ix_file_deletions_video\` ON \`file_deletions\``);
    await queryRunner.query(`DROP INDEX \`uq_file_deletions_storage_key\` ON \`file_deletions\``);
    await queryRunner.query(`DROP TABLE \`file_deletions\``);
    await queryRunner.query(`DROP INDEX \`uq_upload_parts_chunk\` ON \`upload_parts\``);
    await queryRunner.query(`DROP TABLE \`upload_parts\``);
    await queryRunner.query(`DROP INDEX \`ix_upload_sessions_account\` ON \`upload_sessions\``);
    await queryRunner.query(`DROP INDEX \`ix_upload_sessions_expires\` ON \`upload_sessions\``);
    await queryRunner.query(`DROP INDEX \`uq_upload_sessions_upload_id\` ON \`upload_sessions\``);
    await queryRunner.query(`DROP TABLE \`upload_sessions\``);
  }
}
