import { MigrationInterface, QueryRunner } from 'typeorm';

export class Notifications1796053255125 implements MigrationInterface {
  name = 'Notifications1796053255125';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `CREATE TABLE "notifications" ("id" integer PRIMARY KEY AUTOINCREMENT NOT NULL, "recipient_id" integer NOT NULL, "type" varchar(16) NOT NULL, "actor_id" integer NOT NULL, "video_id" integer NOT NULL DEFAULT (0), "comment_id" integer NOT NULL DEFAULT (0), "once_key" integer NOT NULL DEFAULT (0), "content" varchar(100) NOT NULL DEFAULT (''), "is_read" boolean NOT NULL DEFAULT (0), "event_id" varchar(36) NOT NULL, "create_time" bigint NOT NULL)`,
    );
    await queryRunner.query(
      `CREATE UNIQUE INDEX "uq_notifications_once" ON "notifications" ("recipient_id", "actor_id", "type", "video_id", "once_key") `,
    );
    await queryRunner.query(
      `CREATE INDEX "ix_notifications_video" ON "notifications" ("video_id", "comment_id") `,
    );
    await queryRunner.query(
      `CREATE INDEX "ix_notifications_unread" ON "notifications" ("recipient_id", "is_read") `,
    );
    await queryRunner.query(
      `CREATE INDEX "ix_notifications_recipient" ON "notifications" ("recipient_id", "id") `,
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP INDEX "ix_notifications_recipient"`);
    await queryRunner.query(`DROP INDEX "ix_notifications_unread"`);
    await queryRunner.query(`DROP INDEX "ix_notifications_video"`);
    await queryRunner.query(`DROP INDEX "uq_notifications_once"`);
    await queryRunner.query(`DROP TABLE "notifications"`);
  }
}
