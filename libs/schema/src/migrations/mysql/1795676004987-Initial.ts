import { MigrationInterface, QueryRunner } from 'typeorm';

export class Initial1795676004987 implements MigrationInterface {
  name = 'Initial1795676004987';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `CREATE TABLE \`idempotency_keys\` (\`id\` int NOT NULL AUTO_INCREMENT, \`account_id\` int NOT NULL, \`route\` varchar(64) NOT NULL, \`idem_key\` varchar(128) NOT NULL, \`response\` text NOT NULL, \`create_time\` bigint NOT NULL, INDEX \`ix_idempotency_keys_time\` (\`create_time\`), UNIQUE INDEX \`uq_idempotency_keys\` (\`account_id\`, \`route\`, \`idem_key\`), PRIMARY KEY (\`id\`)) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci`,
    );
    await queryRunner.query(
      `CREATE TABLE \`accounts\` (\`id\` int NOT NULL AUTO_INCREMENT, \`username\` varchar(32) NOT NULL, \`username_key\` varchar(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL, \`password_hash\` varchar(100) NOT NULL, \`token\` varchar(1024) NULL, \`refresh_token_hash\` varchar(64) NULL, \`refresh_expires_at\` bigint NULL, \`avatar_url\` varchar(512) NOT NULL DEFAULT '', \`bio\` varchar(255) NOT NULL DEFAULT '', \`follower_count\` int NOT NULL DEFAULT '0', \`vlogger_count\` int NOT NULL DEFAULT '0', \`create_time\` bigint NOT NULL, UNIQUE INDEX \`uq_accounts_username_key\` (\`username_key\`), PRIMARY KEY (\`id\`)) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci`,
    );
    await queryRunner.query(
      `CREATE TABLE \`comments\` (\`id\` int NOT NULL AUTO_INCREMENT, \`video_id\` int NOT NULL, \`author_id\` int NOT NULL, \`username\` varchar(32) NOT NULL, \`content\` varchar(1000) NOT NULL, \`create_time\` bigint NOT NULL, INDEX \`ix_comments_author\` (\`author_id\`, \`id\`), INDEX \`ix_comments_video\` (\`video_id\`, \`id\`), PRIMARY KEY (\`id\`)) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci`,
    );
    await queryRunner.query(
      `CREATE TABLE \`outbox\` (\`id\` int NOT NULL AUTO_INCREMENT, \`event_id\` varchar(36) NOT NULL, \`exchange\` varchar(64) NOT NULL, \`routing_key\` varchar(64) NOT NULL, \`payload\` text NOT NULL, \`status\` smallint NOT NULL DEFAULT '0', \`attempts\` int NOT NULL DEFAULT '0', \`create_time\` bigint NOT NULL, \`update_time\` bigint NOT NULL, UNIQUE INDEX \`uq_outbox_event_id\` (\`event_id\`), INDEX \`ix_outbox_status\` (\`status\`, \`id\`), PRIMARY KEY (\`id\`)) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci`,
    );
    await queryRunner.query(
      `CREATE TABLE \`processed_events\` (\`event_id\` varchar(36) NOT NULL, \`routing_key\` varchar(64) NOT NULL, \`processed_at\` bigint NOT NULL, PRIMARY KEY (\`event_id\`)) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci`,
    );
    await queryRunner.query(
      `CREATE TABLE \`likes\` (\`id\` int NOT NULL AUTO_INCREMENT, \`video_id\` int NOT NULL, \`account_id\` int NOT NULL, \`create_time\` bigint NOT NULL, INDEX \`ix_likes_account\` (\`account_id\`, \`id\`), UNIQUE INDEX \`uq_likes_video_account\` (\`video_id\`, \`account_id\`), PRIMARY KEY (\`id\`)) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci`,
    );
    await queryRunner.query(
      `CREATE TABLE \`socials\` (\`id\` int NOT NULL AUTO_INCREMENT, \`follower_id\` int NOT NULL, \`vlogger_id\` int NOT NULL, \`create_time\` bigint NOT NULL, INDEX \`ix_socials_follower\` (\`follower_id\`, \`id\`), INDEX \`ix_socials_vlogger\` (\`vlogger_id\`, \`id\`), UNIQUE INDEX \`uq_socials_follower_vlogger\` (\`follower_id\`, \`vlogger_id\`), PRIMARY KEY (\`id\`)) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci`,
    );
    await queryRunner.query(
      `CREATE TABLE \`uploads\` (\`id\` int NOT NULL AUTO_INCREMENT, \`account_id\` int NOT NULL, \`kind\` varchar(16) NOT NULL, \`storage_key\` varchar(255) NOT NULL, \`content_type\` varchar(64) NOT NULL, \`size\` bigint NOT NULL, \`create_time\` bigint NOT NULL, UNIQUE INDEX \`uq_uploads_storage_key\` (\`storage_key\`), INDEX \`ix_uploads_account\` (\`account_id\`, \`id\`), PRIMARY KEY (\`id\`)) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci`,
    );
    await queryRunner.query(
      `CREATE TABLE \`videos\` (\`id\` int NOT NULL AUTO_INCREMENT, \`author_id\` int NOT NULL, \`username\` varchar(32) NOT NULL, \`title\` varchar(255) NOT NULL, \`description\` varchar(2000) NOT NULL DEFAULT '', \`play_url\` varchar(512) NOT NULL, \`cover_url\` varchar(512) NOT NULL, \`create_time\` bigint NOT NULL, \`likes_count\` int NOT NULL DEFAULT '0', \`comments_count\` int NOT NULL DEFAULT '0', \`popularity\` int NOT NULL DEFAULT '0', INDEX \`ix_videos_author_id\` (\`author_id\`, \`id\`), INDEX \`ix_videos_author_time\` (\`author_id\`, \`create_time\`, \`id\`), INDEX \`ix_videos_popularity\` (\`popularity\`, \`id\`), INDEX \`ix_videos_likes_count\` (\`likes_count\`, \`id\`), INDEX \`ix_videos_create_time\` (\`create_time\`, \`id\`), PRIMARY KEY (\`id\`)) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci`,
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP INDEX \`ix_videos_create_time\` ON \`videos\``);
    await queryRunner.query(`DROP INDEX \`ix_videos_likes_count\` ON \`videos\``);
    await queryRunner.query(`DROP INDEX \`ix_videos_popularity\` ON \`videos\``);
    await queryRunner.query(`DROP INDEX \`ix_videos_author_time\` ON \`videos\``);
    await queryRunner.query(`DROP INDEX \`ix_videos_author_id\` ON \`videos\``);
    await queryRunner.query(`DROP TABLE \`videos\``);
    await queryRunner.query(`DROP INDEX \`ix_uploads_account\` ON \`uploads\``);
    await queryRunner.query(`DROP INDEX \`uq_uploads_storage_key\` ON \`uploads\``);
    await queryRunner.query(`DROP TABLE \`uploads\``);
    await queryRunner.query(`DROP INDEX \`uq_socials_follower_vlogger\` ON \`socials\``);
    await queryRunner.query(`DROP INDEX \`ix_socials_vlogger\` ON \`socials\``);
    await queryRunner.query(`DROP INDEX \`ix_socials_follower\` ON \`socials\``);
    await queryRunner.query(`DROP TABLE \`socials\``);
    await queryRunner.query(`DROP INDEX \`uq_likes_video_account\` ON \`likes\``);
    await queryRunner.query(`DROP INDEX \`ix_likes_account\` ON \`likes\``);
    await queryRunner.query(`DROP TABLE \`likes\``);
    await queryRunner.query(`DROP TABLE \`processed_events\``);
    await queryRunner.query(`DROP INDEX \`ix_outbox_status\` ON \`outbox\``);
    await queryRunner.query(`DROP INDEX \`uq_outbox_event_id\` ON \`outbox\``);
    await queryRunner.query(`DROP TABLE \`outbox\``);
    await queryRunner.query(`DROP INDEX \`ix_comments_video\` ON \`comments\``);
    await queryRunner.query(`DROP INDEX \`ix_comments_author\` ON \`comments\``);
    await queryRunner.query(`DROP TABLE \`comments\``);
    await queryRunner.query(`DROP INDEX \`uq_accounts_username_key\` ON \`accounts\``);
    await queryRunner.query(`DROP TABLE \`accounts\``);
    await queryRunner.query(`DROP INDEX \`uq_idempotency_keys\` ON \`idempotency_keys\``);
    await queryRunner.query(`DROP INDEX \`ix_idempotency_keys_time\` ON \`idempotency_keys\``);
    await queryRunner.query(`DROP TABLE \`idempotency_keys\``);
  }
}
