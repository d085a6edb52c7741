import { randomUUID } from 'node:crypto';
import { Migrator } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrations } from '../../db/migrations/index.js';
import { migrateToLatest } from '../../src/database/migrate.js';
import { rebuildProjections } from '../../src/projections/rebuild.js';
import { loadReportState } from '../../src/reports/load-report.js';
import { RenderPool } from '../../src/render/render-pool.js';
import { requestReport } from '../../src/reports/request-report.js';
import { COPY_RETRY_MAX_MS } from '../../src/reports/decide.js';
import { createWorkers, type Workers } from '../../src/workers/start-workers.js';
import { waitFor } from '../support/collect.js';
import type { DatabaseKind } from '../../src/database/connect.js';
import { backends, openTestDatabase } from '../support/databases.js';
import { countEventsByType, startTestRuntime, type TestRuntime } from '../support/runtime.js';
import { startS3Server, type TestS3Server } from '../support/s3-server.js';

/**
 * A mirror-mode runtime on its own loopback S3 server, with one set of workers per owner (sharing
 * one render pool), torn down after the block.
 */
function mirrorFixture(kind: DatabaseKind, env: Record<string, string>, owners: string[]) {
  const fx = {} as { s3: TestS3Server; runtime: TestRuntime; pool: RenderPool; workers: Workers[] };
  beforeAll(async () => {
    fx.s3 = await startS3Server();
    fx.runtime = await startTestRuntime(kind, { ...fx.s3.env, STORAGE_MODE: 'mirror', WORKER_POLL_MS: '50', ...env });
    fx.pool = new RenderPool({ size: 1 });
    fx.workers = owners.map((owner) => createWorkers(fx.runtime, { pool: fx.pool, owner }));
  });
  afterAll(async () => {
    for (const w of fx.workers ?? []) await w.stop();
    await fx.pool?.close();
    await fx.runtime?.close();
    await fx.s3?.close();
  });
  return fx;
}

/**
 * Two replicators of the same machine (two processes, or a restart overlapping the old one) and an
 * upload that takes several LEASE_MS: the one copying heartbeats its lease, so the other never
 * takes the report over and uploads it a second time.
 */
describe.each(backends)('a copy longer than LEASE_MS on %s', (kind) => {
  const fx = mirrorFixture(kind, { LEASE_MS: '500' }, ['replicator-a', 'replicator-b']);
  it('is uploaded once and replicated once', async () => {
    const reports = await Promise.all(
      ['One', 'Two'].map((title) =>
        requestReport(fx.runtime.store, { template: 'table', title, params: { columns: [{ label: 'A', key: 'a' }], rows: [{ a: 1 }] } }, { id: 'alice', role: 'user' }),
      ),
    );
    expect(await fx.workers[0]!.render.drain()).toBe(2);
    // Each upload is held five leases long.
    fx.s3.delayPuts(2500);
    fx.workers[0]!.replicate!.start();
    fx.workers[1]!.replicate!.start();
    await waitFor(
      async () => {
        const states = await Promise.all(reports.map((r) => loadReportState(fx.runtime.store.db, r.reportId)));
        return states.every((s) => s?.status === 'REPLICATED');
      },
      60_000,
      'both reports to be replicated',
    );
    // Stopping waits for any copy still in flight, so a second upload would be counted below.
    await Promise.all([fx.workers[0]!.replicate!.stop(), fx.workers[1]!.replicate!.stop()]);

    for (const { reportId, streamId } of reports) {
      const state = await loadReportState(fx.runtime.store.db, reportId);
      const object = state!.locations.find((l) => l.kind === 'object')!;
      expect(fx.s3.puts.get(object.key)).toBe(1);
      expect(await countEventsByType(fx.runtime, streamId)).toEqual({ ReportRequested: 1, ReportRendered: 1, ReportStoredLocal: 1, ReportReplicated: 1 });
    }
    // Every report and event accounted for; no lease left behind.
    expect(await countEventsByType(fx.runtime)).toEqual({ ReportRequested: 2, ReportRendered: 2, ReportStoredLocal: 2, ReportReplicated: 2 });
    expect([...fx.s3.puts.values()].reduce((n, v) => n + v, 0)).toBe(2);
    expect(await fx.runtime.store.db.selectFrom('work_leases').selectAll().execute()).toEqual([]);
  });
});

describe.each(backends)('a copy that waited out an object-store outage on %s', (kind) => {
  const fx = mirrorFixture(kind, { MAX_ATTEMPTS: '2' }, ['replicator']);
  it('is REPLICATED without the outage’s lastError once the store is back', async () => {
    const { reportId, streamId } = await requestReport(
      fx.runtime.store,
      { template: 'table', title: 'Outage', params: { columns: [{ label: 'A', key: 'a' }], rows: [{ a: 1 }] } },
      { id: 'alice', role: 'user' },
    );
    expect(await fx.workers[0]!.render.drain()).toBe(1);
    await fx.s3.stop();
    fx.workers[0]!.replicate!.start();
    // More failures than MAX_ATTEMPTS: an outage is waited out, not given up on.
    await waitFor(async () => (await loadReportState(fx.runtime.store.db, reportId))!.attempts >= 3, 60_000, 'copies to fail during the outage');
    const during = await loadReportState(fx.runtime.store.db, reportId);
    expect(during).toMatchObject({ status: 'STORED', failedStage: 'replicate', lastError: expect.stringMatching(/unavailable|ECONNREFUSED|connect/i) });

    await fx.s3.start();
    await waitFor(async () => (await loadReportState(fx.runtime.store.db, reportId))?.status === 'REPLICATED', 60_000, 'the copy after the outage');
    await fx.workers[0]!.replicate!.stop();
    expect(await loadReportState(fx.runtime.store.db, reportId)).toMatchObject({ status: 'REPLICATED', attempts: 0, failedStage: null, nextAttemptAt: null, lastError: null });

    // Every event accounted for: the failures, then one copy.
    const counts = await countEventsByType(fx.runtime, streamId);
    expect(counts).toEqual({ ReportRequested: 1, ReportRendered: 1, ReportStoredLocal: 1, ReportFailed: counts.ReportFailed, ReportReplicated: 1 });
    expect(counts.ReportFailed).toBeGreaterThanOrEqual(3);
    expect(await countEventsByType(fx.runtime)).toEqual(counts);
    // The projection is what the log folds to.
    const before = await fx.runtime.store.db.selectFrom('report_status').selectAll().execute();
    await rebuildProjections(fx.runtime.store.db, fx.runtime.store.personalData);
    expect(await fx.runtime.store.db.selectFrom('report_status').selectAll().execute()).toEqual(before);
  });
});

describe.each(backends)('a copy during a long outage on %s', (kind) => {
  // A render's backoff would wait 10 minutes after the first failure already.
  const fx = mirrorFixture(kind, { RETRY_BASE_MS: '600000' }, ['replicator']);
  it('is tried again within COPY_RETRY_MAX_MS, never after a render-sized backoff', async () => {
    const { reportId, streamId } = await requestReport(
      fx.runtime.store,
      { template: 'table', title: 'Long outage', params: { columns: [{ label: 'A', key: 'a' }], rows: [{ a: 1 }] } },
      { id: 'alice', role: 'user' },
    );
    expect(await fx.workers[0]!.render.drain()).toBe(1);
    await fx.s3.stop();
    fx.workers[0]!.replicate!.start();
    await waitFor(async () => (await loadReportState(fx.runtime.store.db, reportId))!.attempts >= 1, 60_000, 'a copy to fail during the outage');
    await fx.workers[0]!.replicate!.stop();
    const failed = await loadReportState(fx.runtime.store.db, reportId);
    expect(failed).toMatchObject({ status: 'STORED', failedStage: 'replicate' });
    const waitMs = failed!.nextAttemptAt!.getTime() - Date.now();
    expect(waitMs).toBeLessThanOrEqual(COPY_RETRY_MAX_MS * 1.2);
    // Every event accounted for: the report, its file, the failure; nothing else.
    expect(await countEventsByType(fx.runtime, streamId)).toEqual({ ReportRequested: 1, ReportRendered: 1, ReportStoredLocal: 1, ReportFailed: 1 });
    expect(await countEventsByType(fx.runtime)).toEqual({ ReportRequested: 1, ReportRendered: 1, ReportStoredLocal: 1, ReportFailed: 1 });
  });
});

describe.each(backends)('migration 0010 on %s', (kind) => {
  it('clears the stale lastError of existing rows exactly where the fold now does', async () => {
    const database = await openTestDatabase(kind, { unmigrated: true });
    try {
      const migrator = new Migrator({ db: database.db, provider: { getMigrations: async () => migrations } });
      expect((await migrator.migrateTo('0007_rate_limits')).error).toBeUndefined();
      const row = (reportId: string, failedStage: string | null, lastError: string | null) => ({
        report_id: reportId,
        stream_id: `report-${reportId}`,
        owner: 'alice',
        title: 'Old',
        template: 'table',
        status: 'REPLICATED',
        requested_region: 'iad',
        attempts: 0,
        last_error: lastError,
        failed_stage: failedStage,
        requested_at: new Date(),
        updated_at: new Date(),
        last_version: 5,
      });
      const recovered = randomUUID();
      const failing = randomUUID();
      await database.db.insertInto('report_status').values([row(recovered, null, 'object store unavailable: ECONNREFUSED'), row(failing, 'replicate', 'still down')]).execute();
      await migrateToLatest(database.db);
      const rows = await database.db.selectFrom('report_status').select(['report_id', 'last_error']).orderBy('last_error').execute();
      expect(Object.fromEntries(rows.map((r) => [r.report_id, r.last_error]))).toEqual({ [recovered]: null, [failing]: 'still down' });
    } finally {
      await database.close();
    }
  });
});
