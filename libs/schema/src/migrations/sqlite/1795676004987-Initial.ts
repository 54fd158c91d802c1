import { MigrationInterface, QueryRunner } from 'typeorm';

export class Initial1795676004987 implements MigrationInterface {
  name = 'Initial1795676004987';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `CREATE TABLE "idempotency_keys" ("id" integer PRIMARY KEY AUTOINCREMENT NOT NULL, "account_id" integer NOT NULL, "route" varchar(64) NOT NULL, "idem_key" varchar(128) NOT NULL, "response" text NOT NULL, "create_time" bigint NOT NULL)`,
    );
    await queryRunner.query(`CREATE INDEX "ix_idempotency_keys_time" ON "idempotency_keys" ("create_time") `);
    await queryRunner.query(
      `CREATE UNIQUE INDEX "uq_idempotency_keys" ON "idempotency_keys" ("account_id", "route", "idem_key") `,
    );
    await queryRunner.query(
      `CREATE TABLE "accounts" ("id" integer PRIMARY KEY AUTOINCREMENT NOT NULL, "username" varchar(32) NOT NULL, "username_key" varchar(64) NOT NULL, "password_hash" varchar(100) NOT NULL, "token" varchar(1024), "refresh_token_hash" varchar(64), "refresh_expires_at" bigint, "avatar_url" varchar(512) NOT NULL DEFAULT (''), "bio" varchar(255) NOT NULL DEFAULT (''), "follower_count" integer NOT NULL DEFAULT (0), "vlogger_count" integer NOT NULL DEFAULT (0), "create_time" bigint NOT NULL)`,
    );
    await queryRunner.query(`CREATE UNIQUE INDEX "uq_accounts_username_key" ON "accounts" ("username_key") `);
    await queryRunner.query(
      `CREATE TABLE "comments" ("id" integer PRIMARY KEY AUTOINCREMENT NOT NULL, "video_id" integer NOT NULL, "author_id" integer NOT NULL, "username" varchar(32) NOT NULL, "content" varchar(1000) NOT NULL, "create_time" bigint NOT NULL)`,
    );
    await queryRunner.query(`CREATE INDEX "ix_comments_author" ON "comments" ("author_id", "id") `);
    await queryRunner.query(`CREATE INDEX "ix_comments_video" ON "comments" ("video_id", "id") `);
    await queryRunner.query(
      `CREATE TABLE "outbox" ("id" integer PRIMARY KEY AUTOINCREMENT NOT NULL, "event_id" varchar(36) NOT NULL, "exchange" varchar(64) NOT NULL, "routing_key" varchar(64) NOT NULL, "payload" text NOT NULL, "status" smallint NOT NULL DEFAULT (0), "attempts" integer NOT NULL DEFAULT (0), "create_time" bigint NOT NULL, "update_time" bigint NOT NULL)`,
    );
    await queryRunner.query(`CREATE UNIQUE INDEX "uq_outbox_event_id" ON "outbox" ("event_id") `);
    await queryRunner.query(`CREATE INDEX "ix_outbox_status" ON "outbox" ("status", "id") `);
    await queryRunner.query(
      `CREATE TABLE "processed_events" ("event_id" varchar(36) PRIMARY KEY NOT NULL, "routing_key" varchar(64) NOT NULL, "processed_at" bigint NOT NULL)`,
    );
    await queryRunner.query(
      `CREATE TABLE "likes" ("id" integer PRIMARY KEY AUTOINCREMENT NOT NULL, "video_id" integer NOT NULL, "account_id" integer NOT NULL, "create_time" bigint NOT NULL)`,
    );
    await queryRunner.query(`CREATE INDEX "ix_likes_account" ON "likes" ("account_id", "id") `);
    await queryRunner.query(
      `CREATE UNIQUE INDEX "uq_likes_video_account" ON "likes" ("video_id", "account_id") `,
    );
    await queryRunner.query(
      `CREATE TABLE "socials" ("id" integer PRIMARY KEY AUTOINCREMENT NOT NULL, "follower_id" integer NOT NULL, "vlogger_id" integer NOT NULL, "create_time" bigint NOT NULL)`,
    );
    await queryRunner.query(`CREATE INDEX "ix_socials_follower" ON "socials" ("follower_id", "id") `);
    await queryRunner.query(`CREATE INDEX "ix_socials_vlogger" ON "socials" ("vlogger_id", "id") `);
    await queryRunner.query(
      `CREATE UNIQUE INDEX "uq_socials_follower_vlogger" ON "socials" ("follower_id", "vlogger_id") `,
    );
    await queryRunner.query(
      `CREATE TABLE "uploads" ("id" integer PRIMARY KEY AUTOINCREMENT NOT NULL, "account_id" integer NOT NULL, "kind" varchar(16) NOT NULL, "storage_key" varchar(255) NOT NULL, "content_type" varchar(64) NOT NULL, "size" bigint NOT NULL, "create_time" bigint NOT NULL)`,
    );
    await queryRunner.query(`CREATE UNIQUE INDEX "uq_uploads_storage_key" ON "uploads" ("storage_key") `);
    await queryRunner.query(`CREATE INDEX "ix_uploads_account" ON "uploads" ("account_id", "id") `);
    await queryRunner.query(
      `CREATE TABLE "videos" ("id" integer PRIMARY KEY AUTOINCREMENT NOT NULL, "author_id" integer NOT NULL, "username" varchar(32) NOT NULL, "title" varchar(255) NOT NULL, "description" varchar(2000) NOT NULL DEFAULT (''), "play_url" varchar(512) NOT NULL, "cover_url" varchar(512) NOT NULL, "create_time" bigint NOT NULL, "likes_count" integer NOT NULL DEFAULT (0), "comments_count" integer NOT NULL DEFAULT (0), "popularity" integer NOT NULL DEFAULT (0))`,
    );
    await queryRunner.query(`CREATE INDEX "ix_videos_author_id" ON "videos" ("author_id", "id") `);
    await queryRunner.query(
      `CREATE INDEX "ix_videos_author_time" ON "videos" ("author_id", "create_time", "id") `,
    );
    await queryRunner.query(`CREATE INDEX "ix_videos_popularity" ON "videos" ("popularity", "id") `);
    await queryRunner.query(`CREATE INDEX "ix_videos_likes_count" ON "videos" ("likes_count", "id") `);
    await queryRunner.query(`CREATE INDEX "ix_videos_create_time" ON "videos" ("create_time", "id") `);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP INDEX "ix_videos_create_time"`);
    await queryRunner.query(`DROP INDEX "ix_videos_likes_count"`);
    await queryRunner.query(`DROP INDEX "ix_videos_popularity"`);
    await queryRunner.query(`DROP INDEX "ix_videos_author_time"`);
    await queryRunner.query(`DROP INDEX "ix_videos_author_id"`);
    await queryRunner.query(`DROP TABLE "videos"`);
    await queryRunner.query(`DROP INDEX "ix_uploads_account"`);
    await queryRunner.query(`DROP INDEX "uq_uploads_storage_key"`);
    await queryRunner.query(`DROP TABLE "uploads"`);
    await queryRunner.query(`DROP INDEX "uq_socials_follower_vlogger"`);
    await queryRunner.query(`DROP INDEX "ix_socials_vlogger"`);
    await queryRunner.query(`DROP INDEX "ix_socials_follower"`);
    await queryRunner.query(`DROP TABLE "socials"`);
    await queryRunner.query(`DROP INDEX "uq_likes_video_account"`);
    await queryRunner.query(`DROP INDEX "ix_likes_account"`);
    await queryRunner.query(`DROP TABLE "likes"`);
    await queryRunner.query(`DROP TABLE "processed_events"`);
    await queryRunner.query(`DROP INDEX "ix_outbox_status"`);
    await queryRunner.query(`DROP INDEX "uq_outbox_event_id"`);
    await queryRunner.query(`DROP TABLE "outbox"`);
    await queryRunner.query(`DROP INDEX "ix_comments_video"`);
    await queryRunner.query(`DROP INDEX "ix_comments_author"`);
    await queryRunner.query(`DROP TABLE "comments"`);
    await queryRunner.query(`DROP INDEX "uq_accounts_username_key"`);
    await queryRunner.query(`DROP TABLE "accounts"`);
    await queryRunner.query(`DROP INDEX "uq_idempotency_keys"`);
    await queryRunner.query(`DROP INDEX "ix_idempotency_keys_time"`);
    await queryRunner.query(`DROP TABLE "idempotency_keys"`);
  }
}
