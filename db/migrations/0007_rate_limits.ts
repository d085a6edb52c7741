import type { Kysely } from 'kysely';

/**
 * Rate-limit windows shared by every instance (src/api/shared-rate-limiter.ts): one row per key
 * (e.g. `requestReport:<viewer>`), the points spent in its current fixed window and when that
 * window ends. Not a projection and not history: losing the table only resets the limits.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('rate_limits')
    .addColumn('key', 'text', (c) => c.primaryKey())
    .addColumn('points', 'integer', (c) => c.notNull())
    .addColumn('window_ends_at', 'timestamptz', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('rate_limits_window_ends_at_idx').on('rate_limits').column('window_ends_at').execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('rate_limits').execute();
}
