import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase } from '../../src/database/connect.js';
import { migrateToLatest } from '../../src/database/migrate.js';
import type { EventStore } from '../../src/events/event-store.js';
import { readStream } from '../../src/events/read.js';
import { loadReportState } from '../../src/reports/load-report.js';
import { reportStreamId } from '../../src/reports/report-state.js';
import { RenderPool } from '../../src/render/render-pool.js';
import { requestReport } from '../../src/reports/request-report.js';
import { createWorkers, renderPoolOptions, type Workers } from '../../src/workers/start-workers.js';
import { waitFor } from '../support/collect.js';
import { backends, openTestDatabase, silentLog } from '../support/databases.js';
import { countEventsByType, startTestRuntime, type TestRuntime } from '../support/runtime.js';

const MISBEHAVING_WORKER = new URL('../render/fixtures/misbehaving-worker.js', import.meta.url);

/** A request for a test-only template: appended as the command would, past its template check. */
async function requestTemplate(store: EventStore, template: string): Promise<{ reportId: string; streamId: string }> {
  const reportId = randomUUID();
  const streamId = reportStreamId(reportId);
  await store.append(streamId, 'no_stream', [{ type: 'ReportRequested', data: { reportId, template, title: template, params: {}, owner: 'alice' } }], {
    actor: 'alice',
  });
  return { reportId, streamId };
}

describe.each(backends)('render deadline and heap limit on %s', (kind) => {
  let runtime: TestRuntime;
  let pool: RenderPool;
  let workers: Workers;

  beforeAll(async () => {
    // The lease is shorter than the deadline: only the deadline may end a render that hangs.
    runtime = await startTestRuntime(kind, { MAX_ATTEMPTS: '2', LEASE_MS: '600', RENDER_TIMEOUT_MS: '4000', RENDER_MAX_HEAP_MB: '48', WORKER_POLL_MS: '100' });
    pool = new RenderPool({ ...renderPoolOptions(runtime.config), size: 1, workerUrl: MISBEHAVING_WORKER });
    workers = createWorkers(runtime, { pool, owner: 'worker-a' });
    workers.render.start();
  });
  afterAll(async () => {
    await workers?.stop();
    await pool?.close();
    await runtime?.close();
  });

  const failedEvents = async (streamId: string) =>
    (await readStream(runtime.store.db, streamId)).flatMap((e) => (e.type === 'ReportFailed' ? [e.data] : []));

  it('a template that never ends is terminated at the deadline, counted, backed off, then FAILED; the slot is freed', async () => {
    const { reportId, streamId } = await requestTemplate(runtime.store, 'never-ends');
    await waitFor(async () => (await loadReportState(runtime.store.db, reportId))?.status === 'FAILED', 60_000, 'the hanging report to fail');
    const failures = await failedEvents(streamId);
    expect(failures).toHaveLength(2);
    expect(failures.map((f) => f.attempt)).toEqual([1, 2]);
    expect(failures[0]!.retryAt).not.toBeNull();
    expect(failures[1]!.retryAt).toBeNull();
    for (const f of failures) expect(f).toMatchObject({ stage: 'render', error: expect.stringMatching(/^render timeout: the render ran longer than 4000 ms/) });
    expect(await loadReportState(runtime.store.db, reportId)).toMatchObject({ status: 'FAILED', attempts: 2, lastError: expect.stringMatching(/render timeout/) });

    // The one render slot is free again: a real report renders on the same pool.
    const ok = await requestReport(runtime.store, { template: 'table', title: 'After the hang', params: { columns: [{ label: 'A', key: 'a' }], rows: [{ a: 1 }] } }, { id: 'alice', role: 'user' });
    await waitFor(async () => (await loadReportState(runtime.store.db, ok.reportId))?.status === 'STORED', 30_000, 'a normal report after the hang');
  });

  it('a template that exhausts its heap crashes only its worker thread: out_of_memory, counted, then FAILED', async () => {
    const { reportId, streamId } = await requestTemplate(runtime.store, 'exhausts-memory');
    await waitFor(async () => (await loadReportState(runtime.store.db, reportId))?.status === 'FAILED', 60_000, 'the hungry report to fail');
    const failures = await failedEvents(streamId);
    expect(failures.map((f) => [f.attempt, f.retryAt === null])).toEqual([
      [1, false],
      [2, true],
    ]);
    for (const f of failures) expect(f.error).toMatch(/^render out_of_memory: /);

    const ok = await requestReport(runtime.store, { template: 'table', title: 'After the crash', params: { columns: [{ label: 'A', key: 'a' }], rows: [{ a: 1 }] } }, { id: 'alice', role: 'user' });
    await waitFor(async () => (await loadReportState(runtime.store.db, ok.reportId))?.status === 'STORED', 30_000, 'a normal report after the crash');
  });

  it('accounts for every report and every event', async () => {
    const rows = await runtime.store.db.selectFrom('report_status').select(['template', 'status', 'attempts']).orderBy('template').execute();
    expect(rows.map((r) => [r.template, r.status, r.attempts])).toEqual([
      ['exhausts-memory', 'FAILED', 2],
      ['never-ends', 'FAILED', 2],
      ['table', 'STORED', 0],
      ['table', 'STORED', 0],
    ]);
    expect(await countEventsByType(runtime)).toEqual({ ReportRequested: 4, ReportFailed: 4, ReportRendered: 2, ReportStoredLocal: 2 });
    // A worker releases its lease just after the append that made the report STORED or FAILED: give
    // the last one that moment; a lease that is never released stays and fails here.
    const leases = () => runtime.store.db.selectFrom('work_leases').selectAll().execute();
    await waitFor(async () => (await leases()).length === 0, 10_000, 'the workers to release their leases').catch(() => undefined);
    expect(await leases()).toEqual([]);
  });
});

/**
 * A template that kills the whole process (not its thread): each machine that claims the report
 * dies mid-render without appending anything. The next claim sees the abandoned lease at the same
 * version and counts the attempt, so after MAX_ATTEMPTS the report is FAILED and the fleet stops dying.
 */
describe.each(backends)('a render that kills its process, on %s', (kind) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'quire-kill-'));
  let url: string | undefined;
  let closeDatabase: () => Promise<void> = async () => {};

  afterAll(async () => {
    await closeDatabase();
    rmSync(dataDir, { recursive: true, force: true });
  });

  /** PGlite is one process's database: the test opens it only while no machine runs. */
  async function withDatabase<T>(fn: (store: EventStore) => Promise<T>): Promise<T> {
    const handle = kind === 'postgres' ? await openTestDatabaseOnce() : await openDatabase({ kind: 'pglite', dataDir, log: silentLog });
    if (kind === 'pglite') await migrateToLatest(handle.db);
    const runtime = await startTestRuntime(kind, { DATA_DIR: dataDir }, { database: handle });
    try {
      return await fn(runtime.store);
    } finally {
      if (kind === 'pglite') await handle.close();
    }
  }
  let shared: Awaited<ReturnType<typeof openTestDatabase>> | undefined;
  async function openTestDatabaseOnce() {
    if (!shared) {
      shared = await openTestDatabase('postgres', { poolMax: 5 });
      url = shared.url;
      closeDatabase = () => shared!.close();
    }
    return shared;
  }

  /** Runs one machine until it dies (its signal) or finds nothing left to render and exits (null). */
  async function runMachine(): Promise<NodeJS.Signals | null> {
    const child = spawn(process.execPath, ['--import', 'tsx', new URL('./fixtures/render-machine.ts', import.meta.url).pathname], {
      env: {
        ...process.env,
        DATA_DIR: dataDir,
        DATABASE_URL: url ?? '',
        FLY_REGION: 'iad',
        MACHINE_ID: 'iad-1',
        LOG_LEVEL: 'silent',
        MAX_ATTEMPTS: '2',
        RETRY_BASE_MS: '10',
        LEASE_MS: '500',
        WORKER_POLL_MS: '100',
        SEALER_ENABLED: 'false',
        AUTH_SECRET: 'test-secret-test-secret-test-secret-0123456789',
      },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr!.on('data', (d) => (stderr += d));
    const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) => child.on('exit', (c, s) => resolve([c, s])));
    if (signal === null && code !== 0) throw new Error(`the machine exited with ${code}: ${stderr}`);
    return signal;
  }

  it('kills two machines, then the third machine records the second abandoned attempt: FAILED with a clear reason', async () => {
    const { reportId, streamId } = await withDatabase((store) => requestTemplate(store, 'kills-process'));

    // The first machine claims it and dies mid-render: nothing is appended.
    expect(await runMachine()).toBe('SIGKILL');
    // The second finds the abandoned lease (attempt 1, retried after a backoff), renders again and dies.
    expect(await runMachine()).toBe('SIGKILL');
    // The third records attempt 2, the last: FAILED, not rendered again, and the machine lives
    // (it exits by itself once nothing is left to render).
    expect(await runMachine()).toBeNull();

    await withDatabase(async (store) => {
      const state = await loadReportState(store.db, reportId);
      expect(state).toMatchObject({ status: 'FAILED', attempts: 2, failedStage: 'render', nextAttemptAt: null });
      expect(state!.lastError).toMatch(/^render abandoned: the process rendering it died/);
      const events = await readStream(store.db, streamId);
      expect(events.map((e) => [e.type, e.type === 'ReportFailed' ? e.data.attempt : null])).toEqual([
        ['ReportRequested', null],
        ['ReportFailed', 1],
        ['ReportFailed', 2],
      ]);
      // Every report and every event is accounted for; no lease is left.
      expect(await store.db.selectFrom('report_status').select(['report_id', 'status']).execute()).toEqual([{ report_id: reportId, status: 'FAILED' }]);
      expect(Number((await store.db.selectFrom('events').select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow()).n)).toBe(3);
      expect(await store.db.selectFrom('work_leases').selectAll().execute()).toEqual([]);
    });
  });
});
