import { sql, type Kysely } from 'kysely';
import type { Database } from '../database/schema.js';
import type { PersonalDataCipher } from '../events/event-store.js';
import { postgresPoolOf } from '../database/pool-of.js';
import { replayReports } from './rebuild.js';
import { REPLAY_PAGE_SIZE } from './report-streams.js';

export interface ProjectionDifference {
  table: 'report_status' | 'report_locations';
  /** report_id, plus kind/place for a location. */
  key: string;
  /** The live row, or null when only the rebuild has it. */
  live: Record<string, unknown> | null;
  /** The rebuilt row, or null when only the live table has it. */
  rebuilt: Record<string, unknown> | null;
}

export interface RebuildVerifyResult {
  reports: number;
  events: number;
  differences: ProjectionDifference[];
  differenceCount: number;
}

const STATUS_COLUMNS = `report_id::text, stream_id, owner, title, template, status, requested_region, sha256, bytes, pages, attempts,
  last_error, failed_stage, next_attempt_at, requested_at, updated_at, last_version, webhook, webhook_due_at, expires_at, held, gone_at`;
const LOCATION_COLUMNS = `report_id::text, kind, place, region, machine, key, sha256, bytes, stored_at, verified_at`;

/**
 * Rebuilds every projection from the log into scratch tables and diffs them with the live ones,
 * without touching the live tables or stopping the service: one REPEATABLE READ transaction sees
 * the log and the live projections at the same instant (the projections are written in the
 * append's transaction), folds every report stream with the projection's own fold into
 * temporary tables, and compares them row by row in SQL. Zero differences is the expected answer.
 */
export async function rebuildAndVerifyProjections(
  db: Kysely<Database>,
  personalData: PersonalDataCipher,
  options: { pageSize?: number; maxDifferences?: number } = {},
): Promise<RebuildVerifyResult> {
  const pageSize = options.pageSize ?? REPLAY_PAGE_SIZE;
  const maxDifferences = options.maxDifferences ?? 100;
  return db
    .transaction()
    .setIsolationLevel('repeatable read')
    .execute(async (trx) => {
      await sql`CREATE TEMPORARY TABLE scratch_report_status (LIKE report_status INCLUDING DEFAULTS) ON COMMIT DROP`.execute(trx);
      await sql`CREATE TEMPORARY TABLE scratch_report_locations (LIKE report_locations INCLUDING DEFAULTS) ON COMMIT DROP`.execute(trx);
      const replayed = await replayReports(trx, { status: 'scratch_report_status', locations: 'scratch_report_locations' }, personalData, { pageSize, pool: postgresPoolOf(db) });
      const result: RebuildVerifyResult = { ...replayed, differences: [], differenceCount: 0 };
      const diff = async (table: ProjectionDifference['table'], columns: string, key: (r: Record<string, unknown>) => string) => {
        const { rows } = await sql<{ side: 'live' | 'rebuilt'; row: Record<string, unknown> }>`
          (SELECT 'live' AS side, to_jsonb(d) AS row FROM (SELECT ${sql.raw(columns)} FROM ${sql.table(table)} EXCEPT SELECT ${sql.raw(columns)} FROM ${sql.table(`scratch_${table}`)}) d)
          UNION ALL
          (SELECT 'rebuilt' AS side, to_jsonb(d) AS row FROM (SELECT ${sql.raw(columns)} FROM ${sql.table(`scratch_${table}`)} EXCEPT SELECT ${sql.raw(columns)} FROM ${sql.table(table)}) d)`.execute(trx);
        const byKey = new Map<string, ProjectionDifference>();
        for (const { side, row } of rows) {
          const k = key(row);
          const d = byKey.get(k) ?? { table, key: k, live: null, rebuilt: null };
          d[side] = row;
          byKey.set(k, d);
        }
        for (const d of byKey.values()) {
          result.differenceCount++;
          if (result.differences.length < maxDifferences) result.differences.push(d);
        }
      };
      await diff('report_status', STATUS_COLUMNS, (r) => String(r.report_id));
      await diff('report_locations', LOCATION_COLUMNS, (r) => `${r.report_id}/${r.kind}/${r.place}`);
      return result;
    });
}
