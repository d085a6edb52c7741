import { sql, type Kysely } from 'kysely';
import type { Database } from '../database/schema.js';
import { selectReportWithLocations, toLocation, toReportState, toReportStateWithLocations } from './report-rows.js';
import type { ReportLocation, ReportState, ReportStatus } from '../reports/report-state.js';

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

export interface ReportPageFilter {
  /** Only this owner's reports (users); undefined lists everyone's (auditors, admins). */
  owner?: string;
  status?: ReportStatus;
  template?: string;
}

export interface ReportCursor {
  requestedAt: Date;
  reportId: string;
}

/**
 * A page of reports, newest first, keyset-paginated on (requested_at, report_id). Locations are
 * left empty: the API loads them in one batch for the whole page.
 */
export async function listReports(
  db: Kysely<Database>,
  filter: ReportPageFilter,
  page: { first: number; after?: ReportCursor },
): Promise<ReportState[]> {
  let query = db.selectFrom('report_status').selectAll();
  if (filter.owner !== undefined) query = query.where('owner', '=', filter.owner);
  if (filter.status !== undefined) query = query.where('status', '=', filter.status);
  if (filter.template !== undefined) query = query.where('template', '=', filter.template);
  if (page.after) {
    query = query.where(sql<boolean>`(requested_at, report_id) < (${page.after.requestedAt}::timestamptz, ${page.after.reportId}::uuid)`);
  }
  const rows = await query.orderBy('requested_at', 'desc').orderBy('report_id', 'desc').limit(page.first).execute();
  return rows.map((r) => toReportState(r, []));
}
