import type { Kysely } from 'kysely';
import type pg from 'pg';

// The pg pool under each PostgreSQL Kysely instance ./connect.ts opens. Any other Kysely (PGlite,
// a transaction's, one derived with plugins) has none here, and goes through Kysely as usual.
const pools = new WeakMap<object, pg.Pool>();

/** Records that `db` runs on `pool` (./connect.ts, once per pool). */
export function registerPool<DB>(db: Kysely<DB>, pool: pg.Pool): Kysely<DB> {
  pools.set(db, pool);
  return db;
}

/**
 * The pg pool under a PostgreSQL `db`, for what Kysely's executor cannot do or does slowly: the
 * hot read straight on the pool (./prepared-statements.ts executeHot), a second connection that
 * shares a transaction's snapshot and streams COPY (audit/verify.ts). Undefined for any other db.
 */
export function postgresPoolOf<DB>(db: Kysely<DB>): pg.Pool | undefined {
  return pools.get(db);
}
