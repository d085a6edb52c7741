import { sql, type Kysely, type SelectQueryBuilder } from 'kysely';
import type { Database } from '../database/schema.js';
import type { Checkpoint } from './checkpoint.js';

/** transaction_id (xid8) as text: pg and PGlite disagree on its JS type. */
export const TRANSACTION_ID = sql<string>`transaction_id::text`.as('transaction_id');

/** Every column of `events`, xid8 as text. */
export const EVENT_COLUMNS = [
  'global_position',
  'event_id',
  'stream_id',
  'stream_version',
  'type',
  'schema_version',
  'data',
  'metadata',
  'recorded_at',
  TRANSACTION_ID,
  'prev_hash',
  'hash',
] as const;

export interface SafeRange {
  /** Only rows strictly after this checkpoint. */
  after?: Checkpoint;
  /** Only rows at or before this checkpoint. */
  upTo?: Checkpoint;
  /** Only this stream's rows. */
  streamId?: string;
  /** Newest first (the head); default oldest first. */
  newestFirst?: boolean;
}

/** The oldest transaction still running, cluster-wide: rows of transactions below it are final. */
const HORIZON = sql`pg_snapshot_xmin(pg_current_snapshot())`;

/**
 * The first committed row, in commit order, that a safe read does not show yet (its transaction is
 * at or above the horizon: an older one is still open somewhere on the cluster) — the next row
 * safe reads will deliver. What /metrics watches. One row off the commit-order index however many
 * are held back: an aggregate over all of them (min(recorded_at)) read every row appended since
 * the holding transaction began, on each scrape, growing exactly while something is wrong.
 */
export function firstHeldBackEvent(db: Kysely<Database>): SelectQueryBuilder<Database, 'events', {}> {
  return db.selectFrom('events').where(sql<boolean>`transaction_id >= ${HORIZON}`).orderBy('events.transaction_id').orderBy('global_position').limit(1);
}

/**
 * The safe read of the global log: the rows `range` names, in commit order (transaction id, then
 * global position), and only those of transactions below the oldest one still running. Those are
 * final: a transaction with a lower xid that commits later can never appear behind a checkpoint
 * already handed out. Callers add the columns they need (EVENT_COLUMNS for whole rows) and a limit.
 */
export function safeEvents(db: Kysely<Database>, range: SafeRange = {}): SelectQueryBuilder<Database, 'events', {}> {
  let query = db.selectFrom('events').where(sql<boolean>`transaction_id < ${HORIZON}`);
  const { after, upTo, streamId } = range;
  if (after) query = query.where(sql<boolean>`(transaction_id, global_position) > (${after.transactionId}::xid8, ${after.globalPosition}::bigint)`);
  if (upTo) query = query.where(sql<boolean>`(transaction_id, global_position) <= (${upTo.transactionId}::xid8, ${upTo.globalPosition}::bigint)`);
  if (streamId !== undefined) query = query.where('stream_id', '=', streamId);
  const direction = range.newestFirst ? 'desc' : 'asc';
  return query.orderBy('events.transaction_id', direction).orderBy('global_position', direction);
}

/** Where a selected row stands in the global order. */
export function checkpointOf(row: { transaction_id: string; global_position: number | string }): Checkpoint {
  return { transactionId: row.transaction_id, globalPosition: Number(row.global_position) };
}
