import { migrationProgress, type MachineProgress, type MigrationProgress, type RegionProgress } from '../../legacy/migration-progress.js';
import { checkReadiness, type LostReport, type NotReady, type Readiness } from '../../legacy/readiness.js';
import { builder } from './builder.js';
import { liveSubscription } from './live-subscription.js';

const RegionProgressRef = builder.objectRef<RegionProgress>('RegionMigrationProgress').implement({
  fields: (t) => ({
    region: t.exposeString('region'),
    foundOnVolume: t.exposeInt('foundOnVolume', { description: 'Legacy files this region’s scan found on its volume.' }),
    migrated: t.exposeInt('migrated'),
    failed: t.exposeInt('failed', { description: 'Given up on: the file changed or disappeared after it was found.' }),
    lastScanAt: t.field({ type: 'DateTime', nullable: true, resolve: (r) => r.lastScanAt }),
    lastScanChecked: t.exposeInt('lastScanChecked', { nullable: true }),
  }),
});

const MachineProgressRef = builder.objectRef<MachineProgress>('MachineMigrationProgress').implement({
  fields: (t) => ({
    region: t.exposeString('region'),
    machine: t.exposeString('machine', { nullable: true, description: 'Null for files found by scans before machines were recorded (region-level).' }),
    foundOnVolume: t.exposeInt('foundOnVolume', { description: 'Legacy files this machine’s scan found on its volume.' }),
    migrated: t.exposeInt('migrated'),
    failed: t.exposeInt('failed', { description: 'Given up on: the file changed or disappeared after it was found.' }),
    lastScanAt: t.field({ type: 'DateTime', nullable: true, resolve: (m) => m.lastScanAt }),
    lastScanChecked: t.exposeInt('lastScanChecked', { nullable: true }),
  }),
});

const MigrationProgressRef = builder.objectRef<MigrationProgress>('MigrationProgress').implement({
  description: 'Phase 2 of the legacy migration, per region and per machine.',
  fields: (t) => ({
    total: t.exposeInt('total', { description: 'Legacy reports imported.' }),
    migrated: t.exposeInt('migrated'),
    missingEverywhere: t.exposeInt('missingEverywhere', { description: 'Imported, but no region found the file.' }),
    regions: t.field({ type: [RegionProgressRef], resolve: (p) => p.regions }),
    machines: t.field({ type: [MachineProgressRef], resolve: (p) => p.machines }),
  }),
});

const NotReadyRef = builder.objectRef<NotReady>('NotReadyReport').implement({
  fields: (t) => ({
    reportId: t.exposeString('reportId'),
    title: t.exposeString('title'),
    status: t.exposeString('status'),
    reason: t.exposeString('reason'),
    regions: t.exposeStringList('regions'),
    machines: t.exposeStringList('machines', { description: 'The machines whose volumes hold it (none for region-level copies).' }),
  }),
});

const LostReportRef = builder.objectRef<LostReport>('LostReport').implement({
  fields: (t) => ({ reportId: t.exposeString('reportId'), title: t.exposeString('title'), reason: t.exposeString('reason') }),
});

const ReadinessRef = builder.objectRef<Readiness>('Readiness').implement({
  description: 'Phase 3 gate: ready only when every report with a file has a verified object-store copy.',
  fields: (t) => ({
    ready: t.exposeBoolean('ready'),
    reports: t.exposeInt('reports'),
    notReady: t.field({ type: [NotReadyRef], resolve: (r) => r.notReady }),
    lost: t.field({ type: [LostReportRef], description: 'Already LOST with a forgotten volume (they do not block).', resolve: (r) => r.lost }),
  }),
});

builder.queryField('migrationProgress', (t) =>
  t.field({ type: MigrationProgressRef, authScopes: { auditor: true }, resolve: (_, __, ctx) => migrationProgress(ctx.runtime.store.db) }),
);

builder.queryField('readiness', (t) =>
  t.field({ type: ReadinessRef, authScopes: { auditor: true }, resolve: (_, __, ctx) => checkReadiness(ctx.runtime.store.db) }),
);

builder.subscriptionField('migrationProgress', (t) =>
  t.field({
    type: MigrationProgressRef,
    description: 'The progress now, then again whenever a legacy import, scan or migration lands (at most once a second).',
    authScopes: { auditor: true },
    subscribe: (_, __, ctx) =>
      liveSubscription(ctx, async function* (live) {
        const relevant = new Set(['LegacyReportImported', 'LegacyScanCompleted', 'ReportStoredLocal', 'ReportMigrated', 'ReportFailed', 'ReportVolumeForgotten']);
        const batches = live.listen<string>((push) => ctx.hub.onAny((event) => relevant.has(event.type) && push(event.type)));
        yield await migrationProgress(ctx.runtime.store.db);
        for await (const _batch of batches) {
          await live.sleep(1000);
          if (live.signal.aborted) return;
          yield await migrationProgress(ctx.runtime.store.db);
        }
      }),
    resolve: (p) => p,
  }),
);
