import { sql, type Kysely } from 'kysely';

/**
 * Signed seals (src/audit/seal.ts, seal-key.ts). Seals written before this migration keep
 * format 1 (unsigned, leaves over event hashes only); every new seal is format 2: its leaves bind
 * each event's global position, its hash covers the format and the key id, and it carries an
 * Ed25519 signature of its hash made with a key the database never holds.
 *
 * No column gets a default for new rows: the sealer states the format of every seal it writes.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await sql`ALTER TABLE log_seals ADD COLUMN format smallint NOT NULL DEFAULT 1`.execute(db);
  await sql`ALTER TABLE log_seals ALTER COLUMN format DROP DEFAULT`.execute(db);
  await sql`ALTER TABLE log_seals ADD COLUMN key_id text`.execute(db);
  await sql`ALTER TABLE log_seals ADD COLUMN signature text`.execute(db);
  await sql`
    ALTER TABLE log_seals ADD CONSTRAINT log_seals_signed_check
    CHECK (format = 1 AND key_id IS NULL AND signature IS NULL OR format = 2 AND key_id IS NOT NULL AND signature IS NOT NULL)`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`ALTER TABLE log_seals DROP CONSTRAINT log_seals_signed_check`.execute(db);
  await sql`ALTER TABLE log_seals DROP COLUMN signature, DROP COLUMN key_id, DROP COLUMN format`.execute(db);
}
