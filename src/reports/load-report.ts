import type { CompiledQuery, Kysely, Selectable } from 'kysely';
import { jsonArrayFrom } from 'kysely/helpers/postgres';
import type { Database, ReportStatusTable } from '../database/schema.js';
import { toLocation, toReportState, type LocationRow } from '../projections/report-rows.js';
import type { ReportLocation, ReportState } from './report-state.js';

// Reading a report's projected state: the "load" of load → decide → append, and what the API answers from.

/** The report_status columns with the report's locations as a JSON array: one statement per read. */
export function selectReportWithLocations(db: Kysely<Database>) {
  return db
    .selectFrom('report_status as s')
    .selectAll('s')
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
 * The read path's one statement, built and compiled once per Kysely instance: building and
 * compiling it on every call was ~9% of a `report(id)` request's CPU (bench/README.md).
 */
const compiledReportRead = new WeakMap<Kysely<Database>, CompiledQuery<RowWithLocations>>();

/** The projected state of one report, or null. */
export async function loadReportState(db: Kysely<Database>, reportId: string): Promise<ReportState | null> {
  let query = compiledReportRead.get(db);
  if (!query) {
    query = selectReportWithLocations(db).where('s.report_id', '=', reportId).compile();
    compiledReportRead.set(db, query);
  }
  const { rows } = await db.executeQuery<RowWithLocations>({ ...query, parameters: [reportId] });
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
