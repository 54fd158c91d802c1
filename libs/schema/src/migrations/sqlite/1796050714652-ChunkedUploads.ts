import { MigrationInterface, QueryRunner } from 'typeorm';

export class ChunkedUploads1796050714652 implements MigrationInterface {
  name = 'ChunkedUploads1796050714652';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `CREATE TABLE "upload_sessions" ("id" integer PRIMARY KEY AUTOINCREMENT NOT NULL, "upload_id" varchar(32) NOT NULL, "account_id" integer NOT NULL, "filename" varchar(255) NOT NULL, "file_size" bigint NOT NULL, "chunk_size" integer NOT NULL, "total_chunks" integer NOT NULL, "file_hash" varchar(32) NOT NULL, "status" smallint NOT NULL DEFAULT (0), "result_key" varchar(255) NOT NULL DEFAULT (''), "assembling_until" bigint NOT NULL DEFAULT (0), "create_time" bigint NOT NULL, "expires_at" bigint NOT NULL)`,
    );
    await queryRunner.query(
      `CREATE UNIQUE INDEX "uq_upload_sessions_upload_id" ON "upload_sessions" ("upload_id") `,
    );
    await queryRunner.query(`CREATE INDEX "ix_upload_sessions_expires" ON "upload_sessions" ("expires_at") `);
    await queryRunner.query(
      `CREATE INDEX "ix_upload_sessions_account" ON "upload_sessions" ("account_id", "file_hash") `,
    );
    await queryRunner.query(
      `CREATE TABLE "upload_parts" ("id" integer PRIMARY KEY AUTOINCREMENT NOT NULL, "session_id" integer NOT NULL, "chunk_index" integer NOT NULL, "storage_key" varchar(255) NOT NULL, "size" integer NOT NULL, "create_time" bigint NOT NULL)`,
    );
    await queryRunner.query(
      `CREATE UNIQUE INDEX "uq_upload_parts_chunk" ON "upload_parts" ("session_id", "chunk_index") `,
    );
    await queryRunner.query(
      `CREATE TABLE "file_deletions" ("id" integer PRIMARY KEY AUTOINCREMENT NOT NULL, "storage_key" varchar(255) NOT NULL, "video_id" integer NOT NULL DEFAULT (0), "attempts" integer NOT NULL DEFAULT (0), "next_attempt_at" bigint NOT NULL, "create_time" bigint NOT NULL)`,
    );
    await queryRunner.query(
      `CREATE UNIQUE INDEX "uq_file_deletions_storage_key" ON "file_deletions" ("storage_key") `,
    );
    await queryRunner.query(`CREATE INDEX "ix_file_deletions_video" ON "file_deletions" ("video_id") `);
    await queryRunner.query(`CREATE INDEX "ix_file_deletions_due" ON "file_deletions" ("next_attempt_at") `);
    await queryRunner.query(`DROP INDEX "ix_uploads_account"`);
    await queryRunner.query(`DROP INDEX "uq_uploads_storage_key"`);
    await queryRunner.query(
      `CREATE TABLE "temporary_uploads" ("id" integer PRIMARY KEY AUTOINCREMENT NOT NULL, "account_id" integer NOT NULL, "kind" varchar(16) NOT NULL, "storage_key" varchar(255) NOT NULL, "content_type" varchar(64) NOT NULL, "size" bigint NOT NULL, "create_time" bigint NOT NULL, "referenced" smallint NOT NULL DEFAULT (0))`,
    );
    await queryRunner.query(
      `INSERT INTO "temporary_uploads"("id", "account_id", "kind", "storage_key", "content_type", "size", "create_time") SELECT "id", "account_id", "kind", "storage_key", "content_type", "size", "create_time" FROM "uploads"`,
    );
    await queryRunner.query(`DROP TABLE "uploads"`);
    await queryRunner.query(`ALTER TABLE "temporary_uploads" RENAME TO "uploads"`);
    // Files uploaded before the collector existed are kept: only new uploads can be collected.
    await queryRunner.query(`UPDATE "uploads" SET "referenced" = 1`);
    await queryRunner.query(`CREATE INDEX "ix_uploads_account" ON "uploads" ("account_id", "id") `);
    await queryRunner.query(`CREATE UNIQUE INDEX "uq_uploads_storage_key" ON "uploads" ("storage_key") `);
    await queryRunner.query(
      `CREATE INDEX "ix_uploads_unreferenced" ON "uploads" ("referenced", "create_time") `,
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP INDEX "ix_uploads_unreferenced"`);
    await queryRunner.query(`DROP INDEX "uq_uploads_storage_key"`);
    await queryRunner.query(`DROP INDEX "ix_uploads_account"`);
    await queryRunner.query(`ALTER TABLE "uploads" RENAME TO "temporary_uploads"`);
    await queryRunner.query(
      `CREATE TABLE "uploads" ("id" integer PRIMARY KEY AUTOINCREMENT NOT NULL, "account_id" integer NOT NULL, "kind" varchar(16) NOT NULL, "storage_key" varchar(255) NOT NULL, "content_type" varchar(64) NOT NULL, "size" bigint NOT NULL, "create_time" bigint NOT NULL)`,
    );
    await queryRunner.query(
      `INSERT INTO "uploads"("id", "account_id", "kind", "storage_key", "content_type", "size", "create_time") SELECT "id", "account_id", "kind", "storage_key", "content_type", "size", "create_time" FROM "temporary_uploads"`,
    );
    await queryRunner.query(`DROP TABLE "temporary_uploads"`);
    await queryRunner.query(`CREATE UNIQUE INDEX "uq_uploads_storage_key" ON "uploads" ("storage_key") `);
    await queryRunner.query(`CREATE INDEX "ix_uploads_account" ON "uploads" ("account_id", "id") `);
    await queryRunner.query(`DROP INDEX "ix_file_deletions_due"`);
    await queryRunner.query(`DROP INDEX "ix_file_deletions_video"`);
    await queryRunner.query(`DROP INDEX "uq_file_deletions_storage_key"`);
    await queryRunner.query(`DROP TABLE "file_deletions"`);
    await queryRunner.query(`DROP INDEX "uq_upload_parts_chunk"`);
    await queryRunner.query(`DROP TABLE "upload_parts"`);
    await queryRunner.query(`DROP INDEX "ix_upload_sessions_account"`);
    await queryRunner.query(`DROP INDEX "ix_upload_sessions_expires"`);
    await queryRunner.query(`DROP INDEX "uq_upload_sessions_upload_id"`);
    await queryRunner.query(`DROP TABLE "upload_sessions"`);
  }
}
