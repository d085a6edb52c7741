import type { CompiledQuery, Kysely, Selectable } from 'kysely';
import { jsonArrayFrom } from 'kysely/helpers/postgres';
import { executeHot, prepared } from '../database/prepared-statements.js';
import type { Database, ReportStatusTable } from '../database/schema.js';
import { toLocation, toReportState, type LocationRow } from '../projections/report-rows.js';
import type { ReportLocation, ReportState } from './report-state.js';

// Reading a report's projected state: the "load" of load → decide → append, and what the API answers from.

/**
 * Every report_status column, named: the read below is a prepared statement on PostgreSQL, and a
 * prepared `s.*` would change its result type (and fail) when a migration adds a column.
 */
const STATUS_COLUMNS = [
  's.report_id', 's.stream_id', 's.owner', 's.title', 's.template', 's.status', 's.requested_region', 's.sha256', 's.bytes', 's.pages',
  's.attempts', 's.last_error', 's.failed_stage', 's.next_attempt_at', 's.requested_at', 's.updated_at', 's.last_version', 's.webhook',
  's.webhook_due_at', 's.encrypted', 's.expires_at', 's.held', 's.gone_at',
] as const satisfies ReadonlyArray<`s.${keyof ReportStatusTable}`>;
// A column added to ReportStatusTable but not to the list above fails to compile here.
const allStatusColumns: Exclude<`s.${keyof ReportStatusTable}`, (typeof STATUS_COLUMNS)[number]> extends never ? true : never = true;
void allStatusColumns;

/** The report_status columns with the report's locations as a JSON array: one statement per read. */
export function selectReportWithLocations(db: Kysely<Database>) {
  return db
    .selectFrom('report_status as s')
    .select(STATUS_COLUMNS)
    .select((eb) =>
      jsonArrayFrom(
        eb
          .selectFrom('report_locations as l')
          .select(['l.report_id', 'l.kind', 'l.place', 'l.region', 'l.machine', 'l.key', 'l.sha256', 'l.bytes', 'l.stored_at', 'l.verified_at'])
          .whereRef('l.report_id', '=', 's.report_id')
          .orderBy('l.kind')
          .orderBy('l.place'),
      ).as('locations'),
    );
}

type RowWithLocations = Selectable<ReportStatusTable> & { locations: LocationRow[] };

export function toReportStateWithLocations(row: RowWithLocations): ReportState {
  const { locations, ...status } = row;
  return toReportState(status, locations.map(toLocation));
}

/**
 * The read path's one statement, built and compiled once per Kysely instance (building and
 * compiling it on every call was ~9% of a `report(id)` request's CPU, bench/README.md), and
 * prepared once per connection on PostgreSQL (../database/prepared-statements.ts).
 */
const compiledReportRead = new WeakMap<Kysely<Database>, CompiledQuery<RowWithLocations>>();

/** The projected state of one report, or null. */
export async function loadReportState(db: Kysely<Database>, reportId: string): Promise<ReportState | null> {
  let query = compiledReportRead.get(db);
  if (!query) {
    query = prepared(selectReportWithLocations(db).where('s.report_id', '=', reportId).compile());
    compiledReportRead.set(db, query);
  }
  const rows = await executeHot(db, query, [reportId]);
  return rows[0] ? toReportStateWithLocations(rows[0]) : null;
}

/** Report states for many ids in one statement (DataLoader batches); missing ids are absent. */
export async function loadReportStates(db: Kysely<Database>, reportIds: readonly string[]): Promise<Map<string, ReportState>> {
  const out = new Map<string, ReportState>();
  if (reportIds.length === 0) return out;
  const rows = await selectReportWithLocations(db).where('s.report_id', 'in', [...reportIds]).execute();
  for (const row of rows) out.set(row.report_id, toReportStateWithLocations(row));
  return out;
}

/** Locations of many reports in one statement. */
export async function loadLocations(db: Kysely<Database>, reportIds: readonly string[]): Promise<Map<string, ReportLocation[]>> {
  const out = new Map<string, ReportLocation[]>(reportIds.map((id) => [id, []]));
  if (reportIds.length === 0) return out;
  const rows = await db
    .selectFrom('report_locations')
    .selectAll()
    .where('report_id', 'in', [...reportIds])
    .orderBy('report_id')
    .orderBy('kind')
    .orderBy('place')
    .execute();
  for (const row of rows) out.get(row.report_id)?.push(toLocation(row));
  return out;
}
