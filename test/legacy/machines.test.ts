import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { importLegacyRows } from '../../src/legacy/import-legacy.js';
import { legacyReportId } from '../../src/legacy/legacy-row.js';
import type { SourceItem } from '../../src/legacy/legacy-source.js';
import { migrationProgress } from '../../src/legacy/migration-progress.js';
import { checkReadiness } from '../../src/legacy/readiness.js';
import { loadReportState } from '../../src/reports/load-report.js';
import { RenderPool } from '../../src/render/render-pool.js';
import { backends, openTestDatabase, type TestDatabase } from '../support/databases.js';
import { freePort, startInstance, type Instance } from '../support/instances.js';
import { countEventsByType } from '../support/runtime.js';
import { startS3Server, type TestS3Server } from '../support/s3-server.js';
import { untilAllSafe } from '../support/safe-log.js';

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

async function* rows(n: number): AsyncGenerator<SourceItem> {
  for (let id = 1; id <= n; id++) {
    yield { row: { legacyId: String(id), owner: 'u1', title: `Legacy ${id}`, filePath: `/data/reports/r${id}.pdf`, createdAt: new Date(Date.UTC(2025, 0, id)) } };
  }
}

/** Two machines of one region, each with its own volume: each scans and migrates its own files. */
describe.each(backends)('legacy migration per machine on %s', (kind) => {
  let database: TestDatabase;
  let s3: TestS3Server;
  let pool: RenderPool;
  const volumes = { 'iad-a': '', 'iad-b': '' };
  const files = new Map<string, { machine: keyof typeof volumes; bytes: Buffer }>();
  const machines: Instance[] = [];

  beforeAll(async () => {
    database = await openTestDatabase(kind);
    s3 = await startS3Server();
    pool = new RenderPool({ size: 1 });
    for (const m of Object.keys(volumes) as Array<keyof typeof volumes>) volumes[m] = mkdtempSync(join(tmpdir(), `quire-${m}-`));
    // Rows 1–3 on iad-a's volume, 4–6 on iad-b's, 7 nowhere.
    for (let id = 1; id <= 6; id++) {
      const machine = id <= 3 ? 'iad-a' : 'iad-b';
      const bytes = Buffer.concat([Buffer.from('%PDF-1.4\n'), randomBytes(500 + id)]);
      writeFileSync(join(volumes[machine], `r${id}.pdf`), bytes);
      files.set(String(id), { machine, bytes });
    }
    for (const machine of Object.keys(volumes) as Array<keyof typeof volumes>) {
      const env = { ...s3.env, MACHINE_ID: machine, REPORTS_DIR: volumes[machine], LEGACY_MIGRATE: 'true', RETRY_BASE_MS: '100' };
      machines.push(await startInstance(kind, database, 'iad', await freePort(), env, pool));
    }
  });

  afterAll(async () => {
    for (const m of machines) await m.close();
    await pool?.close();
    await s3?.close();
    await database?.close();
    for (const dir of Object.values(volumes)) if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('each machine scans its own volume and records its files as on that machine', async () => {
    expect((await importLegacyRows(machines[0]!.runtime.store, rows(7), { actor: 'import' })).imported).toBe(7);
    // The scan reads the log safely (below every running transaction of the cluster): on a
    // PostgreSQL shared with other test files, wait until the imports are readable.
    await untilAllSafe(database.db);
    for (const m of machines) await m.workers.legacyScanner!.scanOnce();
    for (const [id, file] of files) {
      const state = await loadReportState(database.db, legacyReportId(id));
      expect(state).toMatchObject({ status: 'STORED', sha256: sha(file.bytes) });
      expect(state!.locations).toEqual([expect.objectContaining({ kind: 'volume', region: 'iad', machine: file.machine, place: file.machine })]);
    }
    const progress = await migrationProgress(database.db);
    expect(progress).toMatchObject({ total: 7, migrated: 0, missingEverywhere: 1 });
    expect(progress.machines.map((m) => [m.region, m.machine, m.foundOnVolume, m.lastScanChecked])).toEqual([
      ['iad', 'iad-a', 3, 7],
      ['iad', 'iad-b', 3, 7],
    ]);
    expect(progress.regions.map((r) => [r.region, r.foundOnVolume])).toEqual([['iad', 6]]);
    const scans = await database.db.selectFrom('events').select('stream_id').where('type', '=', 'LegacyScanCompleted').orderBy('stream_id').execute();
    expect(scans.map((s) => s.stream_id)).toEqual(['legacy-scan-iad-a', 'legacy-scan-iad-b']);
    const readiness = await checkReadiness(database.db);
    expect(readiness.notReady.find((n) => n.status === 'STORED' && n.title === 'Legacy 1')).toMatchObject({ regions: ['iad'], machines: ['iad-a'] });
  });

  it('each machine migrates only its own files; a sibling never records them as disappeared', async () => {
    // iad-b first: it must not touch iad-a's files (it would not find them).
    expect(await machines[1]!.workers.migrate!.drain()).toBe(3);
    for (const [id, file] of files) {
      const state = await loadReportState(database.db, legacyReportId(id));
      expect(state!.status).toBe(file.machine === 'iad-b' ? 'REPLICATED' : 'STORED');
      expect(state!.failedStage).toBeNull();
    }
    expect(await machines[0]!.workers.migrate!.drain()).toBe(3);
    const progress = await migrationProgress(database.db);
    expect(progress.machines.map((m) => [m.machine, m.migrated, m.failed])).toEqual([
      ['iad-a', 3, 0],
      ['iad-b', 3, 0],
    ]);
    for (const [id, file] of files) {
      const events = await machines[0]!.runtime.store.readStream(`report-${legacyReportId(id)}`);
      const migrated = events.find((e) => e.type === 'ReportMigrated');
      expect(migrated).toMatchObject({ data: { region: 'iad', machine: file.machine }, metadata: { machine: file.machine } });
    }
  });

  it('every report and every event is accounted for', async () => {
    const counts = await countEventsByType(machines[0]!.runtime);
    expect(counts).toEqual({ LegacyReportImported: 7, ReportStoredLocal: 6, ReportMigrated: 6, LegacyScanCompleted: 2 });
    const rows = await database.db.selectFrom('report_status').select(['status', 'last_version']).execute();
    expect(rows.map((r) => r.status).sort()).toEqual(['IMPORTED', ...Array(6).fill('REPLICATED')]);
    expect(rows.reduce((n, r) => n + Number(r.last_version), 0)).toBe(counts.LegacyReportImported! + counts.ReportStoredLocal! + counts.ReportMigrated!);
  });
});
