import { sql, type Kysely } from 'kysely';

/**
 * Completion webhooks: the report's webhook (its callbackUrl and the deliveries still to make) in
 * report_status like the rest of its state, and when the next delivery is due, which the webhook
 * stage claims on (a partial index: most reports have nothing pending). Both are rebuilt from the
 * log: reports requested before this migration have no callbackUrl, so null is their true value.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('report_status').addColumn('webhook', 'jsonb').execute();
  await db.schema.alterTable('report_status').addColumn('webhook_due_at', 'timestamptz').execute();
  await sql`CREATE INDEX report_status_webhook_due_idx ON report_status (webhook_due_at) WHERE webhook_due_at IS NOT NULL`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`DROP INDEX report_status_webhook_due_idx`.execute(db);
  await db.schema.alterTable('report_status').dropColumn('webhook_due_at').execute();
  await db.schema.alterTable('report_status').dropColumn('webhook').execute();
}
