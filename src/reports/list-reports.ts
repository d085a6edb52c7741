import { sql, type Kysely } from 'kysely';
import type { Database } from '../database/schema.js';
import { toReportState } from '../projections/report-rows.js';
import type { ReportState, ReportStatus } from './report-state.js';

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
