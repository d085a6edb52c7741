import { Command } from 'commander';
import { SingleBar, Presets } from 'cli-progress';
import { importLegacyRows } from '../legacy/import-legacy.js';
import { readLegacyDatabase, readLegacyFile } from '../legacy/legacy-source.js';
import { migrationProgress } from '../legacy/migration-progress.js';
import { checkReadiness, type NotReady } from '../legacy/readiness.js';
import { scanThisVolume } from '../legacy/legacy-scanner.js';
import { retryReport } from '../reports/retry-report.js';
import type { Runtime } from '../runtime.js';
import { probeObjectStore, type ObjectStoreState } from '../storage/probe-object-store.js';
import { instanceId } from '../workers/start-workers.js';
import { copyStage } from '../workers/copy-stage.js';
import { WorkLoop } from '../workers/work-loop.js';
import { CLI_EXIT } from './exit-codes.js';
import { printJson, withRuntime } from './open.js';

/** " on iad/148ed193b95089, lax" — the machines holding it, and regions for region-level copies. */
function where(n: NotReady): string {
  const places = n.machines.length > 0 ? n.machines : n.regions;
  return places.length ? ` on ${places.join(', ')}` : '';
}

const ADMIN = { id: 'cli:legacy', role: 'admin' as const };

async function importCommand(options: { file?: string; json?: boolean }): Promise<void> {
  await withRuntime(async (runtime) => {
    const { legacy } = runtime.config;
    let source;
    if (options.file) source = readLegacyFile(options.file, legacy.columns);
    else if (legacy.databaseUrl) source = readLegacyDatabase(legacy.databaseUrl, legacy.table, legacy.columns);
    else {
      console.error('quire legacy import: set LEGACY_DATABASE_URL, or pass --file <export.ndjson|export.csv>');
      process.exitCode = CLI_EXIT.usage;
      return;
    }
    const result = await importLegacyRows(runtime.store, source, {
      actor: 'cli:legacy-import',
    });
    if (options.json) return printJson(result);
    console.log(`imported ${result.imported}, already imported ${result.alreadyImported}, rejected ${result.rejected.length}`);
    for (const r of result.rejected) console.log(`  rejected ${r.at}: ${r.reason}`);
  });
}

async function scanCommand(options: { json?: boolean }): Promise<void> {
  await withRuntime(async (runtime) => {
    const { config } = runtime;
    const r = await scanThisVolume(runtime);
    if (options.json)
      return printJson({
        region: config.region,
        machine: config.machineId,
        ...r,
      });
    console.log(`${config.machineId} (${config.region}): checked ${r.checked} imported files, found ${r.found} on ${config.reportsDir}, ${r.notHere} not here`);
  });
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Waits until the object store answers or `deadline` passes, saying once on stderr that it waits
 * (a copy to a store that does not answer only schedules a retry: without this, migrate would end
 * having copied nothing).
 */
async function untilObjectStoreAnswers(runtime: Runtime, deadline: number): Promise<ObjectStoreState> {
  let said = false;
  for (;;) {
    const state = await probeObjectStore(runtime.objectStore);
    if (state.state === 'up' || Date.now() >= deadline) return state;
    if (!said) {
      console.error(`waiting for the object store (bucket "${state.bucket}": ${state.detail}), until ${new Date(deadline).toISOString()}`);
      said = true;
    }
    await sleep(Math.min(1000, Math.max(0, deadline - Date.now())));
  }
}

/**
 * Runs this machine's migrator in the foreground until every file found here is copied (or given
 * up on), with a progress bar. An object store that does not answer is waited for up to
 * `--timeout` seconds; then the command says so and exits 3 (nothing, or not everything, copied).
 */
async function migrateCommand(options: { timeout: string; json?: boolean }): Promise<void> {
  const timeoutS = Number(options.timeout);
  if (!Number.isInteger(timeoutS) || timeoutS < 0) {
    console.error('quire legacy migrate: --timeout must be a whole number of seconds (0: do not wait)');
    process.exitCode = CLI_EXIT.usage;
    return;
  }
  await withRuntime(async (runtime) => {
    const { config, store, volume, objectStore, log, metrics, database } = runtime;
    await scanThisVolume(runtime);
    // The wait for the object store starts once the volume is scanned.
    const deadline = Date.now() + timeoutS * 1000;
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
    const loop = new WorkLoop({
      name: 'migrate',
      concurrency: config.legacy.migrateConcurrency,
      pollMs: 1000,
      notifier: database.notifier,
      log,
      ...stage,
    });
    const machineOf = async () => (await migrationProgress(store.db)).machines.find((m) => m.machine === config.machineId);
    const left = (m: Awaited<ReturnType<typeof machineOf>>) => (m ? m.foundOnVolume - m.migrated - m.failed : 0);
    const start = await machineOf();
    // The progress bar draws on stderr: stdout keeps only the answer.
    const bar = new SingleBar(
      {
        format: `${config.machineId} (${config.region}) {bar} {value}/{total} migrated | {rate} files/s | ETA {eta_formatted} | failed {failed}`,
        etaBuffer: 50,
        stream: process.stderr,
      },
      Presets.shades_classic,
    );
    let objectStoreState: ObjectStoreState | undefined;
    let barStarted = false;
    const began = Date.now();
    const ticker = setInterval(async () => {
      const now = await machineOf().catch(() => undefined);
      if (!now || !barStarted) return;
      const done = now.migrated - (start?.migrated ?? 0);
      bar.setTotal(now.foundOnVolume);
      bar.update(now.migrated, {
        rate: (done / ((Date.now() - began) / 1000)).toFixed(1),
        failed: now.failed,
      });
    }, 500);
    try {
      // Until every file found here is copied or given up on: copies that met an unreachable store
      // are due again later, so wait for the store and drain again, up to the deadline.
      for (;;) {
        objectStoreState = await untilObjectStoreAnswers(runtime, deadline);
        if (objectStoreState.state !== 'up') break;
        if (!barStarted) {
          bar.start(start?.foundOnVolume ?? 0, start?.migrated ?? 0, {
            rate: '0.0',
            failed: start?.failed ?? 0,
          });
          barStarted = true;
        }
        await loop.drain();
        if (left(await machineOf()) === 0 || Date.now() >= deadline) break;
        await sleep(Math.min(1000, Math.max(0, deadline - Date.now())));
      }
    } finally {
      clearInterval(ticker);
      if (barStarted) {
        const end = await machineOf();
        bar.update(end?.migrated ?? 0, { failed: end?.failed ?? 0 });
        bar.stop();
      }
    }
    const end = await machineOf();
    const summary = {
      region: config.region,
      machine: config.machineId,
      found: end?.foundOnVolume ?? 0,
      migrated: end?.migrated ?? 0,
      failed: end?.failed ?? 0,
      notCopiedYet: left(end),
      objectStore: objectStoreState,
    };
    // Not copied because the store does not answer: an operational failure (3), said on stderr and, with --json, in the document.
    const down = summary.notCopiedYet > 0 && objectStoreState?.state !== 'up';
    const pending = summary.notCopiedYet > 0 && !down;
    const error = down
      ? `${summary.notCopiedYet} file(s) not copied: the object store does not answer (bucket "${objectStoreState?.bucket}": ${objectStoreState?.detail}); run quire legacy migrate again when it does (--timeout <s> waits for it)`
      : pending
        ? `${summary.notCopiedYet} file(s) not copied yet: their retries are still due; run quire legacy migrate again (or with --timeout <s>)`
        : undefined;
    if (options.json) printJson(error ? { ...summary, error } : summary);
    if (error) console.error(error);
    if (down) {
      process.exitCode = CLI_EXIT.operational;
      return;
    }
    if (pending) process.exitCode = CLI_EXIT.problem;
    if (summary.failed > 0) {
      if (!options.json) console.log(`${summary.failed} file(s) could not be migrated: see \`quire legacy report\``);
      process.exitCode = CLI_EXIT.problem;
    }
  });
}

async function reportCommand(options: { json?: boolean }): Promise<void> {
  await withRuntime(async (runtime) => {
    const progress = await migrationProgress(runtime.store.db);
    const readiness = await checkReadiness(runtime.store.db);
    const findings = readiness.notReady.filter((n) => n.status === 'IMPORTED' || /given up/.test(n.reason));
    // A finding (missing everywhere, changed, given up) or a LOST report is a problem someone has to look at.
    process.exitCode = findings.length > 0 || readiness.lost.length > 0 ? CLI_EXIT.problem : CLI_EXIT.ok;
    if (options.json) return printJson({ ...progress, findings, lost: readiness.lost });
    console.log(`legacy reports: ${progress.total}, migrated ${progress.migrated}, missing on every volume ${progress.missingEverywhere}`);
    for (const m of progress.machines) {
      const scan = m.lastScanAt ? `last scan ${m.lastScanAt.toISOString()} (${m.lastScanChecked} checked)` : 'never scanned';
      const who = m.machine ? `${m.region}/${m.machine}` : `${m.region} (region-level, before machines)`;
      console.log(`  ${who}: found ${m.foundOnVolume}, migrated ${m.migrated}, failed ${m.failed}; ${scan}`);
    }
    if (findings.length > 0) console.log('findings:');
    for (const f of findings) console.log(`  ${f.reportId} "${f.title}" ${f.status}${where(f)}: ${f.reason}`);
    for (const l of readiness.lost) console.log(`  ${l.reportId} "${l.title}" LOST: ${l.reason}`);
  });
}

async function readinessCommand(options: { json?: boolean }): Promise<void> {
  await withRuntime(async (runtime) => {
    const r = await checkReadiness(runtime.store.db);
    process.exitCode = r.ready ? CLI_EXIT.ok : CLI_EXIT.problem;
    if (options.json) return printJson(r);
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
  });
}

async function retryCommand(reportId: string, options: { json?: boolean }): Promise<void> {
  await withRuntime(async (runtime) => {
    const state = await retryReport(runtime.store, reportId, ADMIN, {
      requestId: 'cli',
    });
    if (options.json) return printJson({ reportId, status: state.status });
    console.log(`${reportId}: ${state.status}, queued again`);
  });
}

export function registerLegacyCommands(program: Command): void {
  const legacy = program.command('legacy').description('adopt the legacy app’s reports and move their files to the object store');
  const json = ['--json', 'print the outcome as JSON (one document on stdout)'] as const;
  legacy
    .command('import')
    .description('phase 1: one LegacyReportImported per legacy row (LEGACY_DATABASE_URL or --file); re-runs import nothing twice')
    .option('--file <path>', 'an NDJSON or CSV export instead of the database')
    .option(...json)
    .action(importCommand);
  legacy.command('scan').description('find imported files on this machine’s volume (REPORTS_DIR)').option(...json).action(scanCommand);
  legacy
    .command('migrate')
    .description('phase 2: copy this machine’s legacy files to the object store, verified, with a progress bar; exit 3 if the object store does not answer')
    .option('--timeout <seconds>', 'wait this long for an object store that does not answer (0: do not wait)', '0')
    .option(...json)
    .action(migrateCommand);
  legacy.command('report').description('progress per machine and findings: files missing everywhere, files that changed; exit 1 if there are findings').option(...json).action(reportCommand);
  legacy.command('readiness').description('phase 3 gate: exit 0 only when every report has a verified object-store copy, else 1').option(...json).action(readinessCommand);
  legacy.command('retry').argument('<reportId>').description('try a given-up copy again (after restoring the file)').option(...json).action(retryCommand);
}
