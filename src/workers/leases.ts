import { sql, type Kysely } from 'kysely';
import type { Logger } from 'pino';
import type { Database } from '../database/schema.js';

export type WorkStage = 'render' | 'replicate' | 'migrate' | 'expire' | 'purge';

export interface Claim {
  reportId: string;
  streamId: string;
  /** The report's stream version when it was claimed. */
  version: number;
  /**
   * When this claim took over an expired lease: the version its holder had claimed. If the report
   * is still at that version, the holder died or hung without appending anything.
   */
  abandonedVersion: number | null;
}

/**
 * Claims up to `limit` reports that are due for `stage` and not leased by a live worker.
 * `due` is a condition on report_status (alias s): the work is derived from the projection.
 * A report waiting for a retry (next_attempt_at) is not due, unless `whileRetrying` (expiry: a
 * report waiting to be rendered again expires on time all the same).
 * FOR UPDATE SKIP LOCKED keeps concurrent claimers apart; the ON CONFLICT guard refuses a lease
 * another instance took in the meantime.
 */
export async function claimDue(
  db: Kysely<Database>,
  options: { stage: WorkStage; owner: string; limit: number; leaseMs: number; due: ReturnType<typeof sql<boolean>>; whileRetrying?: boolean; orderBy?: 'requested_at' | 'expires_at' },
): Promise<Claim[]> {
  const { stage, owner, limit, leaseMs, due } = options;
  const retryWait = options.whileRetrying ? sql<boolean>`true` : sql<boolean>`(s.next_attempt_at IS NULL OR s.next_attempt_at <= now())`;
  const { rows } = await sql<{ report_id: string; stream_id: string; last_version: number; abandoned_version: number | null }>`
    WITH candidates AS (
      SELECT s.report_id, s.stream_id, s.last_version
      FROM report_status AS s
      WHERE ${due}
        AND ${retryWait}
        AND NOT EXISTS (
          SELECT 1 FROM work_leases AS l
          WHERE l.report_id = s.report_id AND l.stage = ${stage} AND l.expires_at > now()
        )
      ORDER BY ${sql.ref(`s.${options.orderBy ?? 'requested_at'}`)}
      LIMIT ${limit}
      FOR UPDATE OF s SKIP LOCKED
    ),
    leased AS (
      INSERT INTO work_leases (report_id, stage, owner, expires_at, claimed_version)
      SELECT report_id, ${stage}, ${owner}, now() + ${leaseMs} * interval '1 millisecond', last_version FROM candidates
      ON CONFLICT (report_id, stage) DO UPDATE
        SET owner = excluded.owner, expires_at = excluded.expires_at,
            claimed_version = excluded.claimed_version, abandoned_version = work_leases.claimed_version
        WHERE work_leases.expires_at <= now()
      RETURNING report_id, abandoned_version
    )
    SELECT candidates.report_id, candidates.stream_id, candidates.last_version, leased.abandoned_version
    FROM candidates JOIN leased USING (report_id)`.execute(db);
  return rows.map((r) => ({
    reportId: r.report_id,
    streamId: r.stream_id,
    version: Number(r.last_version),
    abandonedVersion: r.abandoned_version === null ? null : Number(r.abandoned_version),
  }));
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

/**
 * Runs `work` while holding the lease: renews it every third of `leaseMs` and aborts the signal
 * given to `work` when the lease is lost (taken over) or `stop` fires; releases it afterwards.
 * Every stage that holds a lease for longer than an instant (render, replicate, migrate, purge) goes
 * through here, so none can be taken over while it is still working.
 */
export async function withLease<T>(
  db: Kysely<Database>,
  lease: { reportId: string; stage: WorkStage; owner: string; leaseMs: number; log: Logger },
  stop: AbortSignal | undefined,
  work: (signal: AbortSignal) => Promise<T>,
): Promise<T> {
  const { reportId, stage, owner, leaseMs, log } = lease;
  const lost = new AbortController();
  const onStop = () => lost.abort(new Error('worker stopping'));
  if (stop?.aborted) onStop();
  stop?.addEventListener('abort', onStop);
  const heartbeat = setInterval(() => {
    renewLease(db, reportId, stage, owner, leaseMs)
      .then((held) => held || lost.abort(new Error('lease lost')))
      .catch((err) => log.warn({ err, reportId, stage }, 'lease renewal failed'));
  }, Math.max(50, Math.floor(leaseMs / 3)));
  try {
    return await work(lost.signal);
  } finally {
    clearInterval(heartbeat);
    stop?.removeEventListener('abort', onStop);
    await releaseLease(db, reportId, stage, owner).catch((err) => log.warn({ err, reportId, stage }, 'lease release failed'));
  }
}

export async function releaseLease(db: Kysely<Database>, reportId: string, stage: WorkStage, owner: string): Promise<void> {
  await db.deleteFrom('work_leases').where('report_id', '=', reportId).where('stage', '=', stage).where('owner', '=', owner).execute();
}

/** Every lease this owner holds (graceful shutdown). */
export async function releaseAllLeases(db: Kysely<Database>, owner: string): Promise<void> {
  await db.deleteFrom('work_leases').where('owner', '=', owner).execute();
}
