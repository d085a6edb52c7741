import { sql, type Kysely } from 'kysely';

/**
 * Retention: a report's expiry, its legal hold, and when it became gone (expired, deleted). Existing
 * rows were folded from events without expiry or hold: null, false and null are what a rebuild gives.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .alterTable('report_status')
    .addColumn('expires_at', 'timestamptz')
    .addColumn('held', 'boolean', (c) => c.notNull().defaultTo(false))
    .addColumn('gone_at', 'timestamptz')
    .execute();
  // The expiry sweep's claim: live reports with an expiry, not held, soonest first.
  await db.schema
    .createIndex('report_status_expiry_idx')
    .on('report_status')
    .column('expires_at')
    .where(sql<boolean>`expires_at IS NOT NULL AND gone_at IS NULL AND NOT held`)
    .execute();
  // The purge stage's claim: gone reports (their copies are joined per machine or bucket).
  await db.schema.createIndex('report_status_gone_idx').on('report_status').column('gone_at').where(sql.ref('gone_at'), 'is not', null).execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropIndex('report_status_gone_idx').execute();
  await db.schema.dropIndex('report_status_expiry_idx').execute();
  await db.schema.alterTable('report_status').dropColumn('gone_at').dropColumn('held').dropColumn('expires_at').execute();
}
