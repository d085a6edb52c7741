import { sql, type Kysely } from 'kysely';
import type { Database } from '../database/schema.js';
import { LEGACY_TEMPLATE } from '../projections/report-state.js';

export interface RegionProgress {
  region: string;
  /** Legacy files this region's scan found on its volume. */
  foundOnVolume: number;
  /** Of those, verified in the object store. */
  migrated: number;
  /** Of those, given up on: the file changed or disappeared (see `legacy report`). */
  failed: number;
  lastScanAt: Date | null;
  lastScanChecked: number | null;
}

export interface MigrationProgress {
  /** Legacy reports imported. */
  total: number;
  migrated: number;
  /** Imported reports whose file no region has found. */
  missingEverywhere: number;
  regions: RegionProgress[];
}

/** Phase 2 at a glance, per region: derived from the projections and the scans' events. */
export async function migrationProgress(db: Kysely<Database>): Promise<MigrationProgress> {
  const totals = await db
    .selectFrom('report_status')
    .select([
      (eb) => eb.fn.countAll<number>().as('total'),
      sql<number>`count(*) FILTER (WHERE status = 'REPLICATED')`.as('migrated'),
      sql<number>`count(*) FILTER (WHERE status = 'IMPORTED')`.as('missing'),
    ])
    .where('template', '=', LEGACY_TEMPLATE)
    .executeTakeFirstOrThrow();
  const perRegion = await db
    .selectFrom('report_status as s')
    .innerJoin('report_locations as v', (join) => join.onRef('v.report_id', '=', 's.report_id').on('v.kind', '=', 'volume'))
    .select([
      'v.place as region',
      (eb) => eb.fn.countAll<number>().as('found'),
      sql<number>`count(*) FILTER (WHERE s.status = 'REPLICATED')`.as('migrated'),
      sql<number>`count(*) FILTER (WHERE s.failed_stage = 'migrate' AND s.next_attempt_at IS NULL AND s.status = 'STORED')`.as('failed'),
    ])
    .where('s.template', '=', LEGACY_TEMPLATE)
    .groupBy('v.place')
    .execute();
  const scans = await db
    .selectFrom('events')
    .select(['stream_id', 'recorded_at', 'data'])
    .distinctOn('stream_id')
    .where('type', '=', 'LegacyScanCompleted')
    .orderBy('stream_id')
    .orderBy('stream_version', 'desc')
    .execute();
  const regions = new Map<string, RegionProgress>();
  const region = (name: string) => {
    let r = regions.get(name);
    if (!r) regions.set(name, (r = { region: name, foundOnVolume: 0, migrated: 0, failed: 0, lastScanAt: null, lastScanChecked: null }));
    return r;
  };
  for (const row of perRegion) Object.assign(region(row.region), { foundOnVolume: Number(row.found), migrated: Number(row.migrated), failed: Number(row.failed) });
  for (const scan of scans) {
    const data = scan.data as { region: string; checked: number };
    Object.assign(region(data.region), { lastScanAt: new Date(scan.recorded_at), lastScanChecked: data.checked });
  }
  return {
    total: Number(totals.total),
    migrated: Number(totals.migrated),
    missingEverywhere: Number(totals.missing),
    regions: [...regions.values()].sort((a, b) => a.region.localeCompare(b.region)),
  };
}
