import { sql, type Kysely } from 'kysely';
import type { Database } from '../../src/database/schema.js';

/**
 * Waits until every event in the log now is below the cluster's oldest running transaction, so a
 * safe read (src/events/safe-read.ts: the auditors' `events`, readAll, a subscription's catch-up,
 * seals, verify) sees them all. On a shared PostgreSQL any other database's open transaction (another
 * test file, a benchmark) holds fresh events back for a while; a test must wait for that, not assume it.
 * Gives up (naming the transaction in the way) before vitest's 60 s test timeout would, unexplained.
 */
export async function untilAllSafe(db: Kysely<Database>, timeoutMs = 45_000): Promise<void> {
  const count = async (where: string) => Number((await sql<{ n: number }>`SELECT count(*) AS n FROM events WHERE ${sql.raw(where)}`.execute(db)).rows[0]!.n);
  const total = await count('true');
  const deadline = Date.now() + timeoutMs;
  while ((await count('transaction_id < pg_snapshot_xmin(pg_current_snapshot())')) < total) {
    if (Date.now() > deadline) throw new Error(`events stayed above the oldest running transaction for ${timeoutMs} ms${await oldestTransaction(db)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Who holds the horizon back (PostgreSQL; PGlite has no pg_stat_activity worth naming). */
async function oldestTransaction(db: Kysely<Database>): Promise<string> {
  try {
    const { rows } = await sql<{ pid: number; datname: string; age: string; query: string }>`
      SELECT pid, datname, (now() - xact_start)::text AS age, left(query, 100) AS query FROM pg_stat_activity
      WHERE backend_xid IS NOT NULL ORDER BY backend_xid::text::bigint LIMIT 1`.execute(db);
    const r = rows[0];
    return r ? `: pid ${r.pid} on database ${r.datname}, open for ${r.age} (${r.query})` : '';
  } catch {
    return '';
  }
}
