import { type Kysely } from 'kysely';

/**
 * The claims of render (REQUESTED) and of the copy stages (STORED) take the oldest due reports
 * first. With only (status, next_attempt_at) PostgreSQL reads every report of the status and sorts
 * them: the claim's cost grew with the backlog (bench:scale, 10M events). Walking this index in
 * requested_at order, its LIMIT stops after the reports it takes.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.createIndex('report_status_claim_order_idx').on('report_status').columns(['status', 'requested_at']).execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropIndex('report_status_claim_order_idx').execute();
}
