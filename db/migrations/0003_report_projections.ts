import { sql, type Kysely } from 'kysely';

/**
 * Projections of the log, updated in the append's transaction and rebuildable from it:
 * report_status (one row per report) and report_locations (one row per copy of its file).
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('report_status')
    .addColumn('report_id', 'uuid', (c) => c.primaryKey())
    .addColumn('stream_id', 'text', (c) => c.notNull().unique())
    .addColumn('owner', 'text', (c) => c.notNull())
    .addColumn('title', 'text', (c) => c.notNull())
    .addColumn('template', 'text', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('requested_region', 'text', (c) => c.notNull())
    .addColumn('sha256', 'text')
    .addColumn('bytes', 'bigint')
    .addColumn('pages', 'integer')
    .addColumn('attempts', 'integer', (c) => c.notNull())
    .addColumn('last_error', 'text')
    .addColumn('failed_stage', 'text')
    .addColumn('next_attempt_at', 'timestamptz')
    .addColumn('requested_at', 'timestamptz', (c) => c.notNull())
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull())
    .addColumn('last_version', 'bigint', (c) => c.notNull())
    .execute();
  // Listing: a user's reports, newest first; workers: what is due.
  await db.schema.createIndex('report_status_owner_idx').on('report_status').columns(['owner', 'requested_at desc']).execute();
  await db.schema.createIndex('report_status_due_idx').on('report_status').columns(['status', 'next_attempt_at']).execute();

  await db.schema
    .createTable('report_locations')
    .addColumn('report_id', 'uuid', (c) => c.notNull().references('report_status.report_id'))
    .addColumn('kind', 'text', (c) => c.notNull().check(sql`kind IN ('volume', 'object')`))
    /** The region for a volume copy, the bucket for an object copy. */
    .addColumn('place', 'text', (c) => c.notNull())
    .addColumn('key', 'text', (c) => c.notNull())
    .addColumn('sha256', 'text', (c) => c.notNull())
    .addColumn('bytes', 'bigint', (c) => c.notNull())
    .addColumn('stored_at', 'timestamptz', (c) => c.notNull())
    .addColumn('verified_at', 'timestamptz', (c) => c.notNull())
    .addPrimaryKeyConstraint('report_locations_pkey', ['report_id', 'kind', 'place'])
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('report_locations').execute();
  await db.schema.dropTable('report_status').execute();
}
