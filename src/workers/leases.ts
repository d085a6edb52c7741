import { sql, type Kysely } from 'kysely';
import type { Database } from '../database/schema.js';

export type WorkStage = 'render' | 'replicate' | 'migrate';

export interface Claim {
  reportId: string;
  streamId: string;
}

/**
 * Claims up to `limit` reports that are due for `stage` and not leased by a live worker.
 * `due` is a condition on report_status (alias s): the work is derived from the projection.
 * FOR UPDATE SKIP LOCKED keeps concurrent claimers apart; the ON CONFLICT guard refuses a lease
 * another instance took in the meantime.
 */
export async function claimDue(
  db: Kysely<Database>,
  options: { stage: WorkStage; owner: string; limit: number; leaseMs: number; due: ReturnType<typeof sql<boolean>> },
): Promise<Claim[]> {
  const { stage, owner, limit, leaseMs, due } = options;
  const { rows } = await sql<{ report_id: string; stream_id: string }>`
    WITH candidates AS (
      SELECT s.report_id, s.stream_id
      FROM report_status AS s
      WHERE ${due}
        AND (s.next_attempt_at IS NULL OR s.next_attempt_at <= now())
        AND NOT EXISTS (
          SELECT 1 FROM work_leases AS l
          WHERE l.report_id = s.report_id AND l.stage = ${stage} AND l.expires_at > now()
        )
      ORDER BY s.requested_at
      LIMIT ${limit}
      FOR UPDATE OF s SKIP LOCKED
    ),
    leased AS (
      INSERT INTO work_leases (report_id, stage, owner, expires_at)
      SELECT report_id, ${stage}, ${owner}, now() + ${leaseMs} * interval '1 millisecond' FROM candidates
      ON CONFLICT (report_id, stage) DO UPDATE
        SET owner = excluded.owner, expires_at = excluded.expires_at
        WHERE work_leases.expires_at <= now()
      RETURNING report_id
    )
    SELECT candidates.report_id, candidates.stream_id FROM candidates JOIN leased USING (report_id)`.execute(db);
  return rows.map((r) => ({ reportId: r.report_id, streamId: r.stream_id }));
}

/** Extends a lease this owner holds; false when it was lost (expired and taken by another). */
export async function renewLease(db: Kysely<Database>, reportId: string, stage: WorkStage, owner: string, leaseMs: number): Promise<boolean> {
  const result = await db
    .updateTable('work_leases')
    .set({ expires_at: sql<Date>`now() + ${leaseMs} * interval '1 millisecond'` })
    .where('report_id', '=', reportId)
    .where('stage', '=', stage)
    .where('owner', '=', owner)
    .executeTakeFirst();
  return result.numUpdatedRows > 0n;
}

export async function releaseLease(db: Kysely<Database>, reportId: string, stage: WorkStage, owner: string): Promise<void> {
  await db.deleteFrom('work_leases').where('report_id', '=', reportId).where('stage', '=', stage).where('owner', '=', owner).execute();
}

/** Every lease this owner holds (graceful shutdown). */
export async function releaseAllLeases(db: Kysely<Database>, owner: string): Promise<void> {
  await db.deleteFrom('work_leases').where('owner', '=', owner).execute();
}
