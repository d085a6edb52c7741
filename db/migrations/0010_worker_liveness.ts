import { sql, type Kysely } from 'kysely';

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
  // The report fold now clears lastError with failedStage (a recovered report shows no stale
  // error): bring the projection rows in line, exactly as a rebuild from the log would.
  await sql`UPDATE report_status SET last_error = NULL WHERE failed_stage IS NULL AND last_error IS NOT NULL`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('work_leases').dropColumn('abandoned_version').execute();
  await db.schema.alterTable('work_leases').dropColumn('claimed_version').execute();
}
