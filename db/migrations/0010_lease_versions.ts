import type { Kysely } from 'kysely';

/**
 * A lease remembers the stream version its holder claimed (`claimed_version`). A claim that takes
 * over an expired lease reads the expired holder's version into `abandoned_version`: when the
 * report is still at that version, the holder died (or stopped renewing) without appending
 * anything, and the render stage counts that as a failed attempt. So a report that kills every
 * process that renders it ends FAILED instead of being retried forever.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('work_leases').addColumn('claimed_version', 'integer').execute();
  await db.schema.alterTable('work_leases').addColumn('abandoned_version', 'integer').execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('work_leases').dropColumn('abandoned_version').execute();
  await db.schema.alterTable('work_leases').dropColumn('claimed_version').execute();
}
