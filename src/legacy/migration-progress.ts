import { sql, type Kysely } from 'kysely';
import type { Database } from '../database/schema.js';
import { LEGACY_TEMPLATE } from '../reports/report-state.js';

/** Legacy files on one machine's volume (machine null: found by a scan before machines were recorded). */
export interface MachineProgress {
  region: string;
  machine: string | null;
  /** Legacy files this machine's scan found on its volume. */
  foundOnVolume: number;
  /** Of those, verified in the object store. */
  migrated: number;
  /** Of those, given up on: the file changed or disappeared (see `legacy report`). */
  failed: number;
  lastScanAt: Date | null;
  lastScanChecked: number | null;
}

/** The machines of one region together: a file found on two of them counts once. */
export interface RegionProgress {
  region: string;
  foundOnVolume: number;
  migrated: number;
  failed: number;
  /** The newest scan of any of its machines. */
  lastScanAt: Date | null;
  lastScanChecked: number | null;
}

export interface MigrationProgress {
  /** Legacy reports imported. */
  total: number;
  migrated: number;
  /** Imported reports whose file no machine has found. */
  missingEverywhere: number;
  regions: RegionProgress[];
  machines: MachineProgress[];
}

/** Phase 2 at a glance, per machine and per region: derived from the projections and the scans' events. */
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
  const counted = db
    .selectFrom('report_status as s')
    .innerJoin('report_locations as v', (join) => join.onRef('v.report_id', '=', 's.report_id').on('v.kind', '=', 'volume'))
    .select([
      sql<number>`count(DISTINCT s.report_id)`.as('found'),
      sql<number>`count(DISTINCT s.report_id) FILTER (WHERE s.status = 'REPLICATED')`.as('migrated'),
      sql<number>`count(DISTINCT s.report_id) FILTER (WHERE s.failed_stage = 'migrate' AND s.next_attempt_at IS NULL AND s.status = 'STORED')`.as('failed'),
    ])
    .where('s.template', '=', LEGACY_TEMPLATE);
  const perMachine = await counted.select(['v.region', 'v.machine']).groupBy(['v.region', 'v.machine']).execute();
  const perRegion = await counted.select('v.region').groupBy('v.region').execute();
  const scans = await db
    .selectFrom('events')
    .select(['stream_id', 'recorded_at', 'data'])
    .distinctOn('stream_id')
    .where('type', '=', 'LegacyScanCompleted')
    .orderBy('stream_id')
    .orderBy('stream_version', 'desc')
    .execute();
  const machines = new Map<string, MachineProgress>();
  const machineOf = (region: string, machine: string | null) => {
    const id = `${region}/${machine ?? ''}`;
    let m = machines.get(id);
    if (!m) machines.set(id, (m = { region, machine, foundOnVolume: 0, migrated: 0, failed: 0, lastScanAt: null, lastScanChecked: null }));
    return m;
  };
  const regions = new Map<string, RegionProgress>();
  const regionOf = (region: string) => {
    let r = regions.get(region);
    if (!r) regions.set(region, (r = { region, foundOnVolume: 0, migrated: 0, failed: 0, lastScanAt: null, lastScanChecked: null }));
    return r;
  };
  const counts = (row: { found: number; migrated: number; failed: number }) => ({
    foundOnVolume: Number(row.found),
    migrated: Number(row.migrated),
    failed: Number(row.failed),
  });
  for (const row of perMachine) Object.assign(machineOf(row.region!, row.machine), counts(row));
  for (const row of perRegion) Object.assign(regionOf(row.region!), counts(row));
  for (const scan of scans) {
    // Scans before v2 have no machine (upcast to null): they were per region.
    const data = scan.data as { region: string; machine?: string | null; checked: number };
    const at = new Date(scan.recorded_at);
    Object.assign(machineOf(data.region, data.machine ?? null), { lastScanAt: at, lastScanChecked: data.checked });
    const region = regionOf(data.region);
    if (!region.lastScanAt || region.lastScanAt < at) Object.assign(region, { lastScanAt: at, lastScanChecked: data.checked });
  }
  return {
    total: Number(totals.total),
    migrated: Number(totals.migrated),
    missingEverywhere: Number(totals.missing),
    regions: [...regions.values()].sort((a, b) => a.region.localeCompare(b.region)),
    machines: [...machines.values()].sort((a, b) => a.region.localeCompare(b.region) || (a.machine ?? '').localeCompare(b.machine ?? '')),
  };
}
