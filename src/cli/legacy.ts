import { Command } from 'commander';
import { SingleBar, Presets } from 'cli-progress';
import { loadConfig } from '../config.js';
import { importLegacyRows } from '../legacy/import-legacy.js';
import { readLegacyDatabase, readLegacyFile } from '../legacy/legacy-source.js';
import { migrationProgress } from '../legacy/migration-progress.js';
import { checkReadiness, type NotReady } from '../legacy/readiness.js';
import { scanVolume } from '../legacy/scan-volume.js';
import { retryReport } from '../reports/retry-report.js';
import { startRuntime, type Runtime } from '../runtime.js';
import { instanceId } from '../workers/start-workers.js';
import { copyStage } from '../workers/copy-stage.js';
import { WorkLoop } from '../workers/work-loop.js';

/** " on iad/148ed193b95089, lax" — the machines holding it, and regions for region-level copies. */
function where(n: NotReady): string {
  const places = n.machines.length > 0 ? n.machines : n.regions;
  return places.length ? ` on ${places.join(', ')}` : '';
}

async function withRuntime<T>(run: (runtime: Runtime) => Promise<T>): Promise<T> {
  const config = loadConfig();
  const runtime = await startRuntime(config);
  try {
    return await run(runtime);
  } finally {
    await runtime.close();
  }
}

const ADMIN = { id: 'cli:legacy', role: 'admin' as const };

async function importCommand(options: { file?: string }): Promise<void> {
  await withRuntime(async (runtime) => {
    const { legacy } = runtime.config;
    let source;
    if (options.file) source = readLegacyFile(options.file, legacy.columns);
    else if (legacy.databaseUrl) source = readLegacyDatabase(legacy.databaseUrl, legacy.table, legacy.columns);
    else {
      console.error('quire legacy import: set LEGACY_DATABASE_URL, or pass --file <export.ndjson|export.csv>');
      process.exitCode = 2;
      return;
    }
    const result = await importLegacyRows(runtime.store, source, { actor: 'cli:legacy-import' });
    console.log(`imported ${result.imported}, already imported ${result.alreadyImported}, rejected ${result.rejected.length}`);
    for (const r of result.rejected) console.log(`  rejected ${r.at}: ${r.reason}`);
  });
}

async function scanCommand(): Promise<void> {
  await withRuntime(async (runtime) => {
    const { config, store, volume, log } = runtime;
    const r = await scanVolume({ store, volume, region: config.region, machine: config.machineId, pathPrefix: config.legacy.pathPrefix, log });
    console.log(`${config.machineId} (${config.region}): checked ${r.checked} imported files, found ${r.found} on ${config.reportsDir}, ${r.notHere} not here`);
  });
}

/** Runs this machine's migrator in the foreground until nothing is left to copy, with a progress bar. */
async function migrateCommand(): Promise<void> {
  await withRuntime(async (runtime) => {
    const { config, store, volume, objectStore, log, metrics, database } = runtime;
    await scanVolume({ store, volume, region: config.region, machine: config.machineId, pathPrefix: config.legacy.pathPrefix, log });
    const stage = copyStage({
      kind: 'migrate',
      store,
      volume,
      objectStore,
      region: config.region,
      machine: config.machineId,
      owner: instanceId(config.region, config.machineId),
      leaseMs: config.leaseMs,
      backoff: { maxAttempts: config.maxAttempts, baseMs: config.retryBaseMs },
      log,
      metrics,
      ...(config.legacy.migrateFilesPerSecond ? { filesPerSecond: config.legacy.migrateFilesPerSecond } : {}),
    });
    const loop = new WorkLoop({ name: 'migrate', concurrency: config.legacy.migrateConcurrency, pollMs: 1000, notifier: database.notifier, log, ...stage });
    const regionOf = async () => (await migrationProgress(store.db)).machines.find((m) => m.machine === config.machineId);
    const start = await regionOf();
    const bar = new SingleBar({ format: `${config.machineId} (${config.region}) {bar} {value}/{total} migrated | {rate} files/s | ETA {eta_formatted} | failed {failed}`, etaBuffer: 50 }, Presets.shades_classic);
    bar.start(start?.foundOnVolume ?? 0, start?.migrated ?? 0, { rate: '0.0', failed: start?.failed ?? 0 });
    const began = Date.now();
    const ticker = setInterval(async () => {
      const now = await regionOf().catch(() => undefined);
      if (!now) return;
      const done = now.migrated - (start?.migrated ?? 0);
      bar.setTotal(now.foundOnVolume);
      bar.update(now.migrated, { rate: (done / ((Date.now() - began) / 1000)).toFixed(1), failed: now.failed });
    }, 500);
    try {
      await loop.drain();
    } finally {
      clearInterval(ticker);
      const end = await regionOf();
      bar.update(end?.migrated ?? 0, { failed: end?.failed ?? 0 });
      bar.stop();
    }
    const end = await regionOf();
    if (end && end.failed > 0) {
      console.log(`${end.failed} file(s) could not be migrated: see \`quire legacy report\``);
      process.exitCode = 1;
    }
  });
}

async function reportCommand(): Promise<void> {
  await withRuntime(async (runtime) => {
    const progress = await migrationProgress(runtime.store.db);
    console.log(`legacy reports: ${progress.total}, migrated ${progress.migrated}, missing on every volume ${progress.missingEverywhere}`);
    for (const m of progress.machines) {
      const scan = m.lastScanAt ? `last scan ${m.lastScanAt.toISOString()} (${m.lastScanChecked} checked)` : 'never scanned';
      const who = m.machine ? `${m.region}/${m.machine}` : `${m.region} (region-level, before machines)`;
      console.log(`  ${who}: found ${m.foundOnVolume}, migrated ${m.migrated}, failed ${m.failed}; ${scan}`);
    }
    const readiness = await checkReadiness(runtime.store.db);
    const findings = readiness.notReady.filter((n) => n.status === 'IMPORTED' || /given up/.test(n.reason));
    if (findings.length > 0) console.log('findings:');
    for (const f of findings) console.log(`  ${f.reportId} "${f.title}" ${f.status}${where(f)}: ${f.reason}`);
    for (const l of readiness.lost) console.log(`  ${l.reportId} "${l.title}" LOST: ${l.reason}`);
  });
}

async function readinessCommand(): Promise<void> {
  await withRuntime(async (runtime) => {
    const r = await checkReadiness(runtime.store.db);
    if (r.lost.length > 0) {
      console.log(`${r.lost.length} report(s) already LOST with a forgotten volume:`);
      for (const l of r.lost) console.log(`  ${l.reportId} "${l.title}": ${l.reason}`);
    }
    if (r.ready) {
      console.log(`ready: all ${r.reports} reports with a file have a verified object-store copy; STORAGE_MODE=object is safe and the volumes can go`);
      return;
    }
    console.log(`not ready: ${r.notReady.length} report(s) would be lost with the volumes`);
    const perVolume = new Map<string, number>();
    for (const n of r.notReady) for (const place of n.machines.length > 0 ? n.machines : n.regions) perVolume.set(place, (perVolume.get(place) ?? 0) + 1);
    for (const [place, count] of [...perVolume].sort()) console.log(`  on ${place}: ${count}`);
    for (const n of r.notReady) console.log(`  ${n.reportId} "${n.title}" ${n.status}${where(n)}: ${n.reason}`);
    process.exitCode = 1;
  });
}

async function retryCommand(reportId: string): Promise<void> {
  await withRuntime(async (runtime) => {
    const state = await retryReport(runtime.store, reportId, ADMIN, { requestId: 'cli' });
    console.log(`${reportId}: ${state.status}, queued again`);
  });
}

export function registerLegacyCommands(program: Command): void {
  const legacy = program.command('legacy').description('adopt the legacy app’s reports and move their files to the object store');
  legacy.command('import').description('phase 1: one LegacyReportImported per legacy row (LEGACY_DATABASE_URL or --file); re-runs import nothing twice').option('--file <path>', 'an NDJSON or CSV export instead of the database').action(importCommand);
  legacy.command('scan').description('find imported files on this machine’s volume (REPORTS_DIR)').action(scanCommand);
  legacy.command('migrate').description('phase 2: copy this machine’s legacy files to the object store, verified, with a progress bar').action(migrateCommand);
  legacy.command('report').description('progress per machine and findings: files missing everywhere, files that changed').action(reportCommand);
  legacy.command('readiness').description('phase 3 gate: exit 0 only when every report has a verified object-store copy').action(readinessCommand);
  legacy.command('retry').argument('<reportId>').description('try a given-up copy again (after restoring the file)').action(retryCommand);
}
