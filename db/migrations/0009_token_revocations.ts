import { sql, type Kysely } from 'kysely';

/**
 * Revoked bearer tokens (src/auth/token-revocations.ts): one row per revocation, either one token
 * (`jti`) or every token of a subject issued up to `issued_before`. Rows are only added; every
 * instance reads the new ones every TOKEN_REVOCATION_REFRESH_MS. Not history of a report, so not in
 * the event log; rows can be deleted once every token they name has expired.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('token_revocations')
    .addColumn('id', 'bigint', (c) => c.primaryKey().generatedAlwaysAsIdentity())
    .addColumn('jti', 'text')
    .addColumn('subject', 'text')
    .addColumn('issued_before', 'timestamptz')
    .addColumn('revoked_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('revoked_by', 'text', (c) => c.notNull())
    .addCheckConstraint('token_revocations_one_target', sql`(jti IS NOT NULL AND subject IS NULL AND issued_before IS NULL) OR (jti IS NULL AND subject IS NOT NULL AND issued_before IS NOT NULL)`)
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('token_revocations').execute();
}
