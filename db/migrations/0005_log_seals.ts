import { sql, type Kysely } from 'kysely';

/**
 * Seals of the global log (src/audit/seal.ts): each row covers the next contiguous range of the
 * log in commit order — (transaction_id, global_position), the safe read's order — with the
 * Merkle root of its events' hashes and the hash of the previous seal. Append-only, like events.
 *
 * leaf_positions / leaf_hashes hold each covered event's global position (8 bytes, big-endian)
 * and chain hash (32 bytes), in seal order. They are authenticated by merkle_root (a verifier
 * checks they reproduce it) and let verify name the exact event that differs and serve inclusion
 * proofs without re-reading the range.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('log_seals')
    .addColumn('seq', 'bigint', (c) => c.primaryKey().check(sql`seq >= 1`))
    .addColumn('first_transaction_id', sql`xid8`, (c) => c.notNull())
    .addColumn('first_position', 'bigint', (c) => c.notNull())
    .addColumn('last_transaction_id', sql`xid8`, (c) => c.notNull())
    .addColumn('last_position', 'bigint', (c) => c.notNull())
    .addColumn('event_count', 'integer', (c) => c.notNull().check(sql`event_count >= 1`))
    .addColumn('total_events', 'bigint', (c) => c.notNull())
    .addColumn('merkle_root', 'text', (c) => c.notNull())
    .addColumn('prev_seal_hash', 'text', (c) => c.notNull())
    .addColumn('seal_hash', 'text', (c) => c.notNull().unique())
    .addColumn('sealed_at', 'timestamptz', (c) => c.notNull())
    .addColumn('leaf_positions', 'bytea', (c) => c.notNull())
    .addColumn('leaf_hashes', 'bytea', (c) => c.notNull())
    .execute();
  // Which seal covers a checkpoint: the first whose last checkpoint is at or after it.
  await db.schema.createIndex('log_seals_last_idx').on('log_seals').columns(['last_transaction_id', 'last_position']).execute();
  await sql`
    CREATE TRIGGER log_seals_append_only
    BEFORE UPDATE OR DELETE OR TRUNCATE ON log_seals
    FOR EACH STATEMENT EXECUTE FUNCTION quire_reject_mutation()`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('log_seals').execute();
}
