import { MigrationInterface, QueryRunner } from 'typeorm';

export class MessagesAndTags1796050490565 implements MigrationInterface {
  name = 'MessagesAndTags1796050490565';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `CREATE TABLE "tags" ("id" integer PRIMARY KEY AUTOINCREMENT NOT NULL, "name" varchar(100) NOT NULL)`,
    );
    await queryRunner.query(`CREATE UNIQUE INDEX "uq_tags_name" ON "tags" ("name") `);
    await queryRunner.query(
      `CREATE TABLE "video_tags" ("video_id" integer NOT NULL, "tag_id" integer NOT NULL, "create_time" bigint NOT NULL, PRIMARY KEY ("video_id", "tag_id"))`,
    );
    await queryRunner.query(
      `CREATE INDEX "ix_video_tags_tag_time" ON "video_tags" ("tag_id", "create_time", "video_id") `,
    );
    await queryRunner.query(
      `CREATE TABLE "messages" ("id" integer PRIMARY KEY AUTOINCREMENT NOT NULL, "from_id" integer NOT NULL, "to_id" integer NOT NULL, "pair_low_id" integer NOT NULL, "pair_high_id" integer NOT NULL, "content" varchar(2000) NOT NULL, "create_time" bigint NOT NULL)`,
    );
    await queryRunner.query(
      `CREATE INDEX "ix_messages_pair" ON "messages" ("pair_low_id", "pair_high_id", "id") `,
    );
    await queryRunner.query(
      `CREATE TABLE "conversations" ("owner_id" integer NOT NULL, "peer_id" integer NOT NULL, "last_message_id" integer NOT NULL DEFAULT (0), "last_read_id" integer NOT NULL DEFAULT (0), "unread_count" integer NOT NULL DEFAULT (0), PRIMARY KEY ("owner_id", "peer_id"))`,
    );
    await queryRunner.query(
      `CREATE INDEX "ix_conversations_owner_last" ON "conversations" ("owner_id", "last_message_id") `,
    );
    await queryRunner.query(`ALTER TABLE "videos" ADD COLUMN "tags" varchar(1024) NOT NULL DEFAULT ('')`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "videos" DROP COLUMN "tags"`);
    await queryRunner.query(`DROP INDEX "ix_conversations_owner_last"`);
    await queryRunner.query(`DROP TABLE "conversations"`);
    await queryRunner.query(`DROP INDEX "ix_messages_pair"`);
    await queryRunner.query(`DROP TABLE "messages"`);
    await queryRunner.query(`DROP INDEX "ix_video_tags_tag_time"`);
    await queryRunner.query(`DROP TABLE "video_tags"`);
    await queryRunner.query(`DROP INDEX "uq_tags_name"`);
    await queryRunner.query(`DROP TABLE "tags"`);
  }
}
