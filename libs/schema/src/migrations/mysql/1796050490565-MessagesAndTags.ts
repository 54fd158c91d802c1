import { MigrationInterface, QueryRunner } from 'typeorm';

export class MessagesAndTags1796050490565 implements MigrationInterface {
  name = 'MessagesAndTags1796050490565';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `CREATE TABLE \`tags\` (\`id\` int NOT NULL AUTO_INCREMENT, \`name\` varchar(100) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL, UNIQUE INDEX \`uq_tags_name\` (\`name\`), PRIMARY KEY (\`id\`)) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci`,
    );
    await queryRunner.query(
      `CREATE TABLE \`video_tags\` (\`video_id\` int NOT NULL, \`tag_id\` int NOT NULL, \`create_time\` bigint NOT NULL, INDEX \`ix_video_tags_tag_time\` (\`tag_id\`, \`create_time\`, \`video_id\`), PRIMARY KEY (\`video_id\`, \`tag_id\`)) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci`,
    );
    await queryRunner.query(
      `CREATE TABLE \`messages\` (\`id\` int NOT NULL AUTO_INCREMENT, \`from_id\` int NOT NULL, \`to_id\` int NOT NULL, \`pair_low_id\` int NOT NULL, \`pair_high_id\` int NOT NULL, \`content\` varchar(2000) NOT NULL, \`create_time\` bigint NOT NULL, INDEX \`ix_messages_pair\` (\`pair_low_id\`, \`pair_high_id\`, \`id\`), PRIMARY KEY (\`id\`)) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci`,
    );
    await queryRunner.query(
      `CREATE TABLE \`conversations\` (\`owner_id\` int NOT NULL, \`peer_id\` int NOT NULL, \`last_message_id\` int NOT NULL DEFAULT '0', \`last_read_id\` int NOT NULL DEFAULT '0', \`unread_count\` int NOT NULL DEFAULT '0', INDEX \`ix_conversations_owner_last\` (\`owner_id\`, \`last_message_id\`), PRIMARY KEY (\`owner_id\`, \`peer_id\`)) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci`,
    );
    await queryRunner.query(`ALTER TABLE \`videos\` ADD \`tags\` varchar(1024) NOT NULL DEFAULT ''`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE \`videos\` DROP COLUMN \`tags\``);
    await queryRunner.query(`DROP INDEX \`ix_conversations_owner_last\` ON \`conversations\``);
    await queryRunner.query(`DROP TABLE \`conversations\``);
    await queryRunner.query(`DROP INDEX \`ix_messages_pair\` ON \`messages\``);
    await queryRunner.query(`DROP TABLE \`messages\``);
    await queryRunner.query(`DROP INDEX \`ix_video_tags_tag_time\` ON \`video_tags\``);
    await queryRunner.query(`DROP TABLE \`video_tags\``);
    await queryRunner.query(`DROP INDEX \`uq_tags_name\` ON \`tags\``);
    await queryRunner.query(`DROP TABLE \`tags\``);
  }
}
