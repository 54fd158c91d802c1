import { MigrationInterface, QueryRunner } from 'typeorm';

export class Notifications1796053255125 implements MigrationInterface {
  name = 'Notifications1796053255125';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `CREATE TABLE \`notifications\` (\`id\` int NOT NULL AUTO_INCREMENT, \`recipient_id\` int NOT NULL, \`type\` varchar(16) NOT NULL, \`actor_id\` int NOT NULL, \`video_id\` int NOT NULL DEFAULT '0', \`comment_id\` int NOT NULL DEFAULT '0', \`once_key\` int NOT NULL DEFAULT '0', \`content\` varchar(100) NOT NULL DEFAULT '', \`is_read\` tinyint NOT NULL DEFAULT 0, \`event_id\` varchar(36) NOT NULL, \`create_time\` bigint NOT NULL, UNIQUE INDEX \`uq_notifications_once\` (\`recipient_id\`, \`actor_id\`, \`type\`, \`video_id\`, \`once_key\`), INDEX \`ix_notifications_video\` (\`video_id\`, \`comment_id\`), INDEX \`ix_notifications_unread\` (\`recipient_id\`, \`is_read\`), INDEX \`ix_notifications_recipient\` (\`recipient_id\`, \`id\`), PRIMARY KEY (\`id\`)) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci`,
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP INDEX \`ix_notifications_recipient\` ON \`notifications\``);
    await queryRunner.query(`DROP INDEX \`ix_notifications_unread\` ON \`notifications\``);
    await queryRunner.query(`DROP INDEX \`ix_notifications_video\` ON \`notifications\``);
    await queryRunner.query(`DROP INDEX \`uq_notifications_once\` ON \`notifications\``);
    await queryRunner.query(`DROP TABLE \`notifications\``);
  }
}
