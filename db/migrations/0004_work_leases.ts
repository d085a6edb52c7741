import type { Kysely } from 'kysely';

/**
 * Who is working on what right now. Not a projection and not a queue: the work itself is derived
 * from report_status; a lease only keeps two instances off the same report, and losing the table
 * loses nothing but a little duplicated effort (appends still check versions).
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('work_leases')
    .addColumn('report_id', 'uuid', (c) => c.notNull())
    .addColumn('stage', 'text', (c) => c.notNull())
    .addColumn('owner', 'text', (c) => c.notNull())
    .addColumn('expires_at', 'timestamptz', (c) => c.notNull())
    .addPrimaryKeyConstraint('work_leases_pkey', ['report_id', 'stage'])
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('work_leases').execute();
}
