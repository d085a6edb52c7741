import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { importLegacyRows } from '../../src/legacy/import-legacy.js';
import { legacyReportId } from '../../src/legacy/legacy-row.js';
import { readLegacyFile, readLegacyTable } from '../../src/legacy/legacy-source.js';
import { migrationProgress } from '../../src/legacy/migration-progress.js';
import { checkReadiness } from '../../src/legacy/readiness.js';
import { loadReportState } from '../../src/reports/load-report.js';
import { RenderPool } from '../../src/render/render-pool.js';
import { retryReport } from '../../src/reports/retry-report.js';
import { S3ObjectStore } from '../../src/storage/s3-object-store.js';
import { backends, openTestDatabase, type TestDatabase } from '../support/databases.js';
import { freePort, startInstance, type Instance } from '../support/instances.js';
import { countEventsByType, TEST_SECRET } from '../support/runtime.js';
import { startS3Server, type TestS3Server } from '../support/s3-server.js';
import { waitFor } from '../support/collect.js';
import { untilAllSafe } from '../support/safe-log.js';

const REGIONS = ['iad', 'lax', 'syd'] as const;
const COLUMNS = { id: 'id', owner: 'user_id', title: 'title', file_path: 'file_path', created_at: 'created_at' };
const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
const pdf = (size: number) => Buffer.concat([Buffer.from('%PDF-1.4\n'), randomBytes(size)]);

/**
 * The legacy world: a `reports` table as the seed has it, and three regional volumes under
 * /data/reports. Rows 1–9 have their file in one region; 10 and 11 have none anywhere.
 */
interface Fixture {
  volumes: Record<(typeof REGIONS)[number], string>;
  files: Map<string, { region: (typeof REGIONS)[number]; name: string; bytes: Buffer }>;
}

async function createFixture(database: TestDatabase): Promise<Fixture> {
  await sql`CREATE TABLE reports (id integer PRIMARY KEY, user_id integer NOT NULL, title text NOT NULL, file_path text NOT NULL, created_at timestamptz NOT NULL)`.execute(database.db);
  const volumes = Object.fromEntries(REGIONS.map((r) => [r, mkdtempSync(join(tmpdir(), `quire-legacy-${r}-`))])) as Fixture['volumes'];
  const files: Fixture['files'] = new Map();
  for (let id = 1; id <= 11; id++) {
    const name = `report_${id}.pdf`;
    await sql`INSERT INTO reports VALUES (${id}, ${100 + (id % 3)}, ${`Legacy report ${id}`}, ${`/data/reports/${name}`}, ${new Date(Date.UTC(2025, 0, id))})`.execute(database.db);
    if (id <= 9) {
      const region = REGIONS[id % 3]!;
      const bytes = pdf(id === 9 ? 12 * 1024 * 1024 : 2000 + id * 100);
      writeFileSync(join(volumes[region], name), bytes);
      files.set(String(id), { region, name, bytes });
    }
  }
  return { volumes, files };
}

describe.each(backends)('legacy migration on %s', (kind) => {
  let database: TestDatabase;
  let s3: TestS3Server;
  let pool: RenderPool;
  let fixture: Fixture;
  const instances: Instance[] = [];
  let env: (region: (typeof REGIONS)[number]) => Record<string, string>;

  beforeAll(async () => {
    database = await openTestDatabase(kind);
    s3 = await startS3Server();
    pool = new RenderPool({ size: 1 });
    fixture = await createFixture(database);
    env = (region) => ({
      REPORTS_DIR: fixture.volumes[region],
      ...s3.env,
      LEGACY_MIGRATE: 'true',
      LEGACY_MIGRATE_CONCURRENCY: '2',
      RETRY_BASE_MS: '200',
      LEASE_MS: '1500',
    });
    for (const region of REGIONS) instances.push(await startInstance(kind, database, region, await freePort(), env(region), pool));
  });

  afterAll(async () => {
    for (const i of instances) await i.close();
    await pool?.close();
    await database?.close();
    await s3?.close();
    for (const dir of Object.values(fixture?.volumes ?? {})) rmSync(dir, { recursive: true, force: true });
  });

  const store = () => instances[0]!.runtime.store;
  const stateOf = (legacyId: string) => loadReportState(store().db, legacyReportId(legacyId));

  it('three regions import concurrently: every row once, re-runs import nothing', async () => {
    const results = await Promise.all(
      instances.map((i) => importLegacyRows(i.runtime.store, readLegacyTable(i.runtime.store.db, 'reports', COLUMNS, 4), { actor: `import:${i.region}` })),
    );
    expect(results.reduce((n, r) => n + r.imported, 0)).toBe(11);
    expect(results.every((r) => r.imported + r.alreadyImported === 11 && r.rejected.length === 0)).toBe(true);
    const again = await importLegacyRows(store(), readLegacyTable(store().db, 'reports', COLUMNS), { actor: 'again' });
    expect(again).toEqual({ imported: 0, alreadyImported: 11, rejected: [] });
    expect((await countEventsByType(instances[0]!.runtime)).LegacyReportImported).toBe(11);

    // An export file with a bad row: the bad row is reported, the good one is already there.
    const dir = mkdtempSync(join(tmpdir(), 'quire-export-'));
    writeFileSync(join(dir, 'export.ndjson'), `{"id":1,"user_id":101,"title":"Legacy report 1","file_path":"/data/reports/report_1.pdf","created_at":"2025-01-01T00:00:00Z"}\n{"id":99,"title":""}\nnot json\n`);
    const fromFile = await importLegacyRows(store(), readLegacyFile(join(dir, 'export.ndjson'), COLUMNS), { actor: 'file' });
    expect(fromFile.imported).toBe(0);
    expect(fromFile.alreadyImported).toBe(1);
    expect(fromFile.rejected.map((r) => r.at)).toEqual([`${join(dir, 'export.ndjson')} line 2`, `${join(dir, 'export.ndjson')} line 3`]);
    rmSync(dir, { recursive: true, force: true });
  });

  it('each region finds its own files; a download works from any region before any upload', async () => {
    // The scan reads the imports safely (below every running transaction of the cluster): on a
    // PostgreSQL shared with other test files, they may be held back a while.
    await untilAllSafe(database.db);
    for (const i of instances) await i.workers.legacyScanner!.scanOnce();
    for (const [id, file] of fixture.files) {
      const state = await stateOf(id);
      expect(state).toMatchObject({ status: 'STORED', sha256: sha(file.bytes), bytes: file.bytes.length });
      // Found by the machine whose volume has it (one machine per region here: <region>-1).
      expect(state!.locations).toEqual([
        expect.objectContaining({ kind: 'volume', place: `${file.region}-1`, region: file.region, machine: `${file.region}-1`, key: file.name }),
      ]);
    }
    expect((await stateOf('10'))!.status).toBe('IMPORTED');
    const progress = await migrationProgress(store().db);
    expect(progress).toMatchObject({ total: 11, migrated: 0, missingEverywhere: 2 });
    expect(progress.regions.map((r) => [r.region, r.foundOnVolume, r.lastScanChecked])).toEqual([
      ['iad', 3, 11],
      ['lax', 3, 11],
      ['syd', 3, 11],
    ]);
    expect(progress.machines.map((m) => [m.region, m.machine, m.foundOnVolume, m.lastScanChecked])).toEqual([
      ['iad', 'iad-1', 3, 11],
      ['lax', 'lax-1', 3, 11],
      ['syd', 'syd-1', 3, 11],
    ]);
  });

  it('migrates every file exactly once, verified; a changed file is reported, not skipped; readiness fails', async () => {
    // Corrupt one file after it was found (recorded sha256 no longer matches).
    const changed = fixture.files.get('4')!;
    writeFileSync(join(fixture.volumes[changed.region], changed.name), pdf(100));
    await Promise.all(instances.map((i) => i.workers.migrate!.drain()));

    const objects = new S3ObjectStore(s3.storeOptions);
    for (const [id, file] of fixture.files) {
      const state = await stateOf(id);
      const counts = await countEventsByType(instances[0]!.runtime, state!.streamId);
      if (id === '4') {
        expect(state).toMatchObject({ status: 'STORED', failedStage: 'migrate', nextAttemptAt: null });
        expect(state!.lastError).toMatch(/has changed/);
        expect(counts.ReportMigrated).toBeUndefined();
        continue;
      }
      expect(state!.status).toBe('REPLICATED');
      expect(counts.ReportMigrated).toBe(1);
      const object = state!.locations.find((l) => l.kind === 'object')!;
      expect(await objects.digest(object.key)).toEqual({ bytes: file.bytes.length, sha256: sha(file.bytes) });
    }
    const readiness = await checkReadiness(store().db);
    expect(readiness.ready).toBe(false);
    expect(readiness.notReady.map((n) => n.title).sort()).toEqual(['Legacy report 10', 'Legacy report 11', 'Legacy report 4']);
  });

  it('once the bad ones are resolved, readiness passes', async () => {
    // The operator restores the changed file and retries; the missing ones turn up on a volume.
    const changed = fixture.files.get('4')!;
    writeFileSync(join(fixture.volumes[changed.region], changed.name), changed.bytes);
    await retryReport(store(), legacyReportId('4'), { id: 'ops', role: 'admin' });
    writeFileSync(join(fixture.volumes.syd, 'report_10.pdf'), pdf(500));
    writeFileSync(join(fixture.volumes.lax, 'report_11.pdf'), pdf(600));
    // Nothing new was imported: an incremental scan finds nothing, a full one finds them.
    for (const i of instances) await i.workers.legacyScanner!.scanOnce();
    expect((await stateOf('10'))!.status).toBe('IMPORTED');
    for (const i of instances) await i.workers.legacyScanner!.scanOnce({ full: true });
    await Promise.all(instances.map((i) => i.workers.migrate!.drain()));
    const readiness = await checkReadiness(store().db);
    expect(readiness).toMatchObject({ ready: true, notReady: [] });
    const progress = await migrationProgress(store().db);
    expect(progress).toMatchObject({ total: 11, migrated: 11, missingEverywhere: 0 });
  });

  if (kind === 'postgres') {
    it('a migrator killed mid-upload and restarted leaves no duplicate and nothing behind', async () => {
      const bigId = '12';
      const bytes = pdf(20 * 1024 * 1024);
      await sql`INSERT INTO reports VALUES (12, 7, 'Big one', '/data/reports/big.pdf', now())`.execute(database.db);
      writeFileSync(join(fixture.volumes.iad, 'big.pdf'), bytes);
      await importLegacyRows(store(), readLegacyTable(store().db, 'reports', COLUMNS), { actor: 'import' });
      // `legacy migrate` scans first: the import must be safe to read by then.
      await untilAllSafe(database.db);
      const cli = (args: string[]) =>
        spawn(process.execPath, ['bin/quire.js', ...args], {
          env: {
            ...process.env,
            ...env('iad'),
            DATABASE_URL: database.url!,
            FLY_REGION: 'iad',
            // The same machine as the in-process iad instance: the same volume.
            MACHINE_ID: 'iad-1',
            AUTH_SECRET: TEST_SECRET,
            DATA_DIR: mkdtempSync(join(tmpdir(), 'quire-cli-')),
            LOG_LEVEL: 'info',
            LEGACY_MIGRATE_CONCURRENCY: '1',
          },
          stdio: ['ignore', 'pipe', 'pipe'],
        });
      const first = cli(['legacy', 'migrate']);
      let output = '';
      first.stdout.on('data', (d) => (output += d));
      first.stderr.on('data', (d) => (output += d));
      // Kill it once the upload is under way (its lease is taken).
      await waitFor(async () => (await database.db.selectFrom('work_leases').selectAll().where('stage', '=', 'migrate').execute()).length > 0, 30_000, 'the migrator to claim the big file');
      first.kill('SIGKILL');
      await new Promise((r) => first.on('exit', r));
      expect((await stateOf(bigId))!.status).toBe('STORED');

      // After the dead one's lease expires, a restart finishes the job.
      await new Promise((r) => setTimeout(r, 1600));
      const second = cli(['legacy', 'migrate']);
      let out2 = '';
      second.stdout.on('data', (d) => (out2 += d));
      second.stderr.on('data', (d) => (out2 += d));
      const code = await new Promise<number | null>((r) => second.on('exit', r));
      expect(code, out2).toBe(0);
      const state = await stateOf(bigId);
      expect(state!.status).toBe('REPLICATED');
      const counts = await countEventsByType(instances[0]!.runtime, state!.streamId);
      expect(counts.ReportMigrated).toBe(1);
      const objects = new S3ObjectStore(s3.storeOptions);
      expect(await objects.digest(state!.locations.find((l) => l.kind === 'object')!.key)).toEqual({ bytes: bytes.length, sha256: sha(bytes) });
      expect(await database.db.selectFrom('work_leases').selectAll().execute()).toEqual([]);
      expect(output.length).toBeGreaterThan(0);
    });
  }

  it('every report and every event is accounted for', async () => {
    const counts = await countEventsByType(instances[0]!.runtime);
    const rows = await store().db.selectFrom('report_status').select(['status', 'last_version']).execute();
    expect(rows.length).toBe(counts.LegacyReportImported);
    expect(rows.every((r) => r.status === 'REPLICATED')).toBe(true);
    const reportEvents = Object.entries(counts)
      .filter(([type]) => type !== 'LegacyScanCompleted')
      .reduce((n, [, c]) => n + c, 0);
    expect(rows.reduce((n, r) => n + Number(r.last_version), 0)).toBe(reportEvents);
  });
});
