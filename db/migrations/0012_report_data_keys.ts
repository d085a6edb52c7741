import { sql, type Kysely } from 'kysely';

/**
 * Crypto-shredding (src/reports/personal-data.ts): one data key per report, kept here and not in
 * the append-only log, so that deleting the row erases the report's personal data while every
 * hash and seal (they cover the ciphertext) still verifies. `wrapped_key` is the data key
 * encrypted with the key-encryption key from config (DATA_ENCRYPTION_KEY); `kek_id` names that key.
 * report_status.encrypted says whether the report's personal data is in the log encrypted (new
 * reports) or in plaintext (written before this migration: cannot be erased).
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('report_data_keys')
    .addColumn('report_id', 'uuid', (c) => c.primaryKey())
    .addColumn('kek_id', 'text', (c) => c.notNull())
    .addColumn('wrapped_key', 'text', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  await db.schema.alterTable('report_status').addColumn('encrypted', 'boolean', (c) => c.notNull().defaultTo(false)).execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('report_status').dropColumn('encrypted').execute();
  await db.schema.dropTable('report_data_keys').execute();
}
