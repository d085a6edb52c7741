import type { Kysely } from 'kysely';
import type { Database } from '../database/schema.js';
import { GONE_STATUSES } from '../reports/report-state.js';

export interface NotReady {
  reportId: string;
  title: string;
  status: string;
  /** Why this report would be lost with the volumes. */
  reason: string;
  regions: string[];
  /** The machines whose volumes hold it (a region-level copy, recorded before machines, has none). */
  machines: string[];
}

/** A report whose only copies were on volumes declared gone (`quire volumes forget`). */
export interface LostReport {
  reportId: string;
  title: string;
  reason: string;
}

export interface Readiness {
  ready: boolean;
  reports: number;
  notReady: NotReady[];
  /** Already lost with a forgotten volume: nothing left to copy, so they do not block; listed so nobody is surprised. */
  lost: LostReport[];
}

/**
 * Phase 3 gate: may the volumes go? Only when every report that has (or had) a file has a
 * verified object-store copy. Reports still being rendered or failed for good have no file to
 * lose and do not block, nor do gone ones (expired, deleted: their copies are being purged).
 */
export async function checkReadiness(db: Kysely<Database>, limit = 1000): Promise<Readiness> {
  const rows = await db
    .selectFrom('report_status as s')
    .leftJoin('report_locations as v', (join) => join.onRef('v.report_id', '=', 's.report_id').on('v.kind', '=', 'volume'))
    .select(['s.report_id', 's.title', 's.status', 's.failed_stage', 's.last_error', 'v.region', 'v.machine'])
    .where('s.status', 'not in', ['REPLICATED', 'REQUESTED', 'FAILED', 'LOST', ...GONE_STATUSES])
    .orderBy('s.requested_at')
    .limit(limit)
    .execute();
  const byId = new Map<string, NotReady>();
  for (const r of rows) {
    let entry = byId.get(r.report_id);
    if (!entry) {
      const reason =
        r.status === 'IMPORTED'
          ? 'its file was not found on any volume'
          : r.failed_stage === 'migrate' || r.failed_stage === 'replicate'
            ? `the copy was given up on: ${r.last_error ?? 'unknown error'}`
            : 'only on a volume: not yet copied to the object store';
      byId.set(r.report_id, (entry = { reportId: r.report_id, title: r.title, status: r.status, reason, regions: [], machines: [] }));
    }
    if (r.region && !entry.regions.includes(r.region)) entry.regions.push(r.region);
    if (r.machine) entry.machines.push(r.machine);
  }
  const lost = await db
    .selectFrom('report_status')
    .select(['report_id', 'title', 'last_error'])
    .where('status', '=', 'LOST')
    .orderBy('requested_at')
    .limit(limit)
    .execute();
  const total = await db.selectFrom('report_status').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
  return {
    ready: byId.size === 0,
    reports: Number(total.n),
    notReady: [...byId.values()],
    lost: lost.map((r) => ({ reportId: r.report_id, title: r.title, reason: r.last_error ?? 'its volume was forgotten' })),
  };
}
