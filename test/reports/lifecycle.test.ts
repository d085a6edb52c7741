import { createHash } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Actor } from '../../src/actor.js';
import { loadReportState } from '../../src/reports/load-report.js';
import { RenderPool } from '../../src/render/render-pool.js';
import { InvalidParamsError } from '../../src/errors.js';
import { NotRetryableError, ParamsTooLargeError, ReportNotFoundError, UnknownTemplateError } from '../../src/reports/errors.js';
import { requestReport } from '../../src/reports/request-report.js';
import { retryReport } from '../../src/reports/retry-report.js';
import { Volume } from '../../src/storage/volume.js';
import { claimDue } from '../../src/workers/leases.js';
import { renderStage } from '../../src/workers/render-stage.js';
import { createWorkers, type Workers } from '../../src/workers/start-workers.js';
import { WorkLoop } from '../../src/workers/work-loop.js';
import { sql } from 'kysely';
import { rebuildProjections } from '../../src/projections/rebuild.js';
import { openPdf } from '../render/pdf.js';
import { waitFor } from '../support/collect.js';
import { backends } from '../support/databases.js';
import { countEventsByType, startTestRuntime, type TestRuntime } from '../support/runtime.js';

const alice: Actor = { id: 'alice', role: 'user' };
const bob: Actor = { id: 'bob', role: 'user' };

const tableParams = (rows: number) => ({
  columns: [
    { label: 'Region', key: 'region' },
    { label: 'Revenue', key: 'revenue', align: 'right', format: 'currency', currency: 'EUR' },
  ],
  rows: Array.from({ length: rows }, (_, i) => ({ region: `Region ${i}`, revenue: i * 10.5 })),
});

describe.each(backends)('report lifecycle on %s', (kind) => {
  let runtime: TestRuntime;
  let pool: RenderPool;
  let workers: Workers;

  beforeAll(async () => {
    runtime = await startTestRuntime(kind, { MAX_ATTEMPTS: '2', LEASE_MS: '600' });
    pool = new RenderPool({ size: 2 });
    await pool.warmUp();
    workers = createWorkers(runtime, { pool, owner: 'worker-a' });
  });
  afterAll(async () => {
    await workers?.stop();
    await pool?.close();
    await runtime?.close();
  });

  it('request → STORED: the PDF is on the volume, hashed and paged as the events say', async () => {
    const { reportId, streamId } = await requestReport(runtime.store, { template: 'table', title: 'Revenue', params: tableParams(120) }, alice, { requestId: 'req-1' });
    expect((await loadReportState(runtime.store.db, reportId))!.status).toBe('REQUESTED');

    expect(await workers.render.drain()).toBe(1);

    const events = await runtime.store.readStream(streamId);
    expect(events.map((e) => e.type)).toEqual(['ReportRequested', 'ReportRendered', 'ReportStoredLocal']);
    expect(events[0]!.metadata).toMatchObject({ region: 'iad', actor: 'alice', requestId: 'req-1' });
    const rendered = events[1]!;
    const stored = events[2]!;
    if (rendered.type !== 'ReportRendered' || stored.type !== 'ReportStoredLocal') throw new Error('unexpected events');
    expect(stored.data.region).toBe('iad');
    expect(stored.data.key).toBe(`reports/${reportId}/${rendered.data.sha256}.pdf`);

    const pdf = await readFile(join(runtime.config.reportsDir, stored.data.key));
    expect(createHash('sha256').update(pdf).digest('hex')).toBe(rendered.data.sha256);
    expect(pdf.byteLength).toBe(rendered.data.bytes);
    const doc = await openPdf(pdf);
    expect(doc.numPages).toBe(rendered.data.pages);
    expect(doc.numPages).toBeGreaterThan(1);
    expect(await doc.text(1)).toContain('Revenue');
    await doc.close();

    const state = await loadReportState(runtime.store.db, reportId);
    expect(state).toMatchObject({ status: 'STORED', sha256: rendered.data.sha256, pages: rendered.data.pages, attempts: 0, version: 3 });
    expect(state!.locations).toEqual([
      expect.objectContaining({ kind: 'volume', place: 'iad-1', region: 'iad', machine: 'iad-1', key: stored.data.key, sha256: rendered.data.sha256, bytes: pdf.byteLength }),
    ]);
  });

  it('rejects bad requests with a clear error and appends nothing', async () => {
    const before = await countEventsByType(runtime);
    const cases: Array<[Parameters<typeof requestReport>[1], unknown, RegExp]> = [
      [{ template: 'invoice', title: 'x', params: {} }, UnknownTemplateError, /unknown template "invoice"; known templates: table, summary, history/],
      [{ template: 'table', title: 'x', params: { columns: 'nope', rows: [] } }, InvalidParamsError, /params\.columns/],
      [{ template: 'table', title: '', params: tableParams(1) }, InvalidParamsError, /title: a title is required/],
      [{ template: 'table', title: 'x', params: { ...tableParams(1), rows: [{ region: 'a'.repeat(1_100_000) }] } }, ParamsTooLargeError, /limit is 1048576/],
      [{ template: 'history', title: 'x', params: { reportId: '00000000-0000-4000-8000-000000000000' } }, ReportNotFoundError, /not found/],
    ];
    for (const [input, type, message] of cases) {
      const attempt = requestReport(runtime.store, input, alice);
      await expect(attempt).rejects.toBeInstanceOf(type);
      await expect(attempt).rejects.toThrow(message);
    }
    // Someone else's report cannot be the subject of your history report.
    const { reportId } = await requestReport(runtime.store, { template: 'table', title: 'mine', params: tableParams(1) }, alice);
    const after = await countEventsByType(runtime);
    await expect(requestReport(runtime.store, { template: 'history', title: 'spy', params: { reportId } }, bob)).rejects.toBeInstanceOf(ReportNotFoundError);
    expect(await countEventsByType(runtime)).toEqual(after);
    expect(after.ReportRequested).toBe((before.ReportRequested ?? 0) + 1);
    await workers.render.drain();
  });

  it('a history report prints the subject’s own events', async () => {
    const subject = await requestReport(runtime.store, { template: 'table', title: 'Subject', params: tableParams(3) }, alice);
    await workers.render.drain();
    const { reportId, streamId } = await requestReport(runtime.store, { template: 'history', title: 'Audit', params: { reportId: subject.reportId } }, alice);
    await workers.render.drain();
    const state = await loadReportState(runtime.store.db, reportId);
    expect(state!.status).toBe('STORED');
    const pdf = await readFile(join(runtime.config.reportsDir, state!.locations[0]!.key));
    const doc = await openPdf(pdf);
    const text = await doc.text(1);
    await doc.close();
    const subjectEvents = await runtime.store.readStream(subject.streamId);
    for (const e of subjectEvents) expect(text).toContain(e.type);
    expect((await runtime.store.readStream(streamId)).at(-1)!.type).toBe('ReportStoredLocal');
  });

  it('fails with backoff, ends FAILED with the reason, and a retry brings it home', async () => {
    // A volume that cannot be written: REPORTS_DIR is a file.
    const blocked = join(runtime.dataDir, 'not-a-directory');
    await writeFile(blocked, 'x');
    const broken = renderStage({
      store: runtime.store,
      pool,
      volume: new Volume(blocked),
      mode: 'mirror',
      region: 'iad',
      machine: 'iad-1',
      owner: 'worker-broken',
      leaseMs: 5_000,
      // Longer than a render on a loaded machine: the drain below must not see it come due again.
      backoff: { maxAttempts: 2, baseMs: 2_000 },
      log: runtime.log,
    });
    const brokenLoop = new WorkLoop({ name: 'broken', concurrency: 1, pollMs: 50, notifier: runtime.database.notifier, log: runtime.log, ...broken });
    const { reportId, streamId } = await requestReport(runtime.store, { template: 'table', title: 'Doomed', params: tableParams(5) }, alice);

    expect(await brokenLoop.drain()).toBe(1);
    let state = await loadReportState(runtime.store.db, reportId);
    expect(state).toMatchObject({ status: 'REQUESTED', attempts: 1, failedStage: 'store' });
    expect(state!.nextAttemptAt!.getTime()).toBeGreaterThan(Date.now() - 1000);
    // Not due yet: nothing to claim until the backoff has passed.
    expect(await brokenLoop.drain()).toBe(0);
    await waitFor(async () => (await brokenLoop.drain()) === 1, 20_000, 'the second attempt after its backoff');

    state = await loadReportState(runtime.store.db, reportId);
    expect(state).toMatchObject({ status: 'FAILED', attempts: 2, failedStage: 'store', nextAttemptAt: null });
    expect(state!.lastError).toMatch(/ENOTDIR|EEXIST|not a directory/i);
    await expect(retryReport(runtime.store, reportId, bob)).rejects.toBeInstanceOf(ReportNotFoundError);

    const retried = await retryReport(runtime.store, reportId, alice);
    expect(retried).toMatchObject({ status: 'REQUESTED', attempts: 0 });
    await expect(retryReport(runtime.store, reportId, alice)).rejects.toBeInstanceOf(NotRetryableError);
    expect(await workers.render.drain()).toBe(1);
    expect((await loadReportState(runtime.store.db, reportId))!.status).toBe('STORED');
    expect((await runtime.store.readStream(streamId)).map((e) => e.type)).toEqual([
      'ReportRequested',
      'ReportFailed',
      'ReportFailed',
      'ReportRetryRequested',
      'ReportRendered',
      'ReportStoredLocal',
    ]);
  });

  it('a worker that dies mid-render loses its lease: the abandoned claim counts as an attempt; the report is stored exactly once', async () => {
    const { reportId, streamId } = await requestReport(runtime.store, { template: 'table', title: 'Orphan', params: tableParams(40) }, alice);
    // Worker "dead" claims it and never comes back.
    const [stale] = await claimDue(runtime.store.db, { stage: 'render', owner: 'worker-dead', limit: 5, leaseMs: 300, due: sql<boolean>`s.status = 'REQUESTED'` });
    expect(stale).toMatchObject({ reportId, version: 1, abandonedVersion: null });
    // While its lease holds, nobody else may take the report.
    expect(await workers.render.drain()).toBe(0);
    await new Promise((r) => setTimeout(r, 350));

    const stage = (owner: string) =>
      renderStage({
        store: runtime.store,
        pool,
        volume: new Volume(runtime.config.reportsDir),
        mode: 'mirror',
        region: 'iad',
        machine: 'iad-1',
        owner,
        leaseMs: 60_000,
        backoff: { maxAttempts: 3, baseMs: 10 },
        log: runtime.log,
      });
    const live = stage('worker-live');
    const never = new AbortController().signal;
    // The lease expired: a live worker claims it, sees that its holder left it at this very version
    // and records that attempt (with a backoff) instead of rendering right away.
    const [taken] = await live.claim(5);
    expect(taken).toMatchObject({ reportId, version: 1, abandonedVersion: 1 });
    await live.process(taken!, never);
    expect(await loadReportState(runtime.store.db, reportId)).toMatchObject({ status: 'REQUESTED', attempts: 1, lastError: expect.stringMatching(/^render abandoned/) });

    // The "dead" one wakes up and works on its old claim: the report moved on, so it does nothing.
    await stage('worker-dead').process(stale!, never);
    expect(await countEventsByType(runtime, streamId)).toEqual({ ReportRequested: 1, ReportFailed: 1 });

    // After the backoff the live worker renders it, once.
    await waitFor(async () => {
      const [fresh] = await live.claim(5);
      if (fresh) await live.process(fresh, never);
      return (await loadReportState(runtime.store.db, reportId))?.status === 'STORED';
    }, 20_000, 'the report to be rendered after its backoff');

    expect(await countEventsByType(runtime, streamId)).toEqual({ ReportRequested: 1, ReportFailed: 1, ReportRendered: 1, ReportStoredLocal: 1 });
    // No lease is left behind.
    expect(await runtime.store.db.selectFrom('work_leases').selectAll().execute()).toEqual([]);
  });

  it('the running loop picks up new requests as they are appended', async () => {
    workers.render.start();
    try {
      const requested = await Promise.all(
        Array.from({ length: 3 }, (_, i) => requestReport(runtime.store, { template: 'table', title: `Live ${i}`, params: tableParams(10) }, alice)),
      );
      await waitFor(async () => {
        const rows = await runtime.store.db.selectFrom('report_status').select('status').where('report_id', 'in', requested.map((r) => r.reportId)).execute();
        return rows.every((r) => r.status === 'STORED');
      }, 20_000, 'three reports to be stored');
    } finally {
      await workers.render.stop();
    }
  });

  it('rebuilding the projections from the log gives the same rows', async () => {
    const snapshot = async () => ({
      status: await runtime.store.db.selectFrom('report_status').selectAll().orderBy('report_id').execute(),
      locations: await runtime.store.db.selectFrom('report_locations').selectAll().orderBy('report_id').orderBy('kind').orderBy('place').execute(),
    });
    const live = await snapshot();
    expect(live.status.length).toBeGreaterThan(5);
    const result = await rebuildProjections(runtime.store.db, runtime.store.personalData, 2);
    expect(result.reports).toBe(live.status.length);
    expect(await snapshot()).toEqual(live);
  });

  it('every report and every event is accounted for', async () => {
    const counts = await countEventsByType(runtime);
    const statuses = await runtime.store.db.selectFrom('report_status').select(['status', 'last_version']).execute();
    expect(statuses.length).toBe(counts.ReportRequested);
    expect(statuses.map((s) => s.status)).toEqual(statuses.map(() => 'STORED'));
    const total = Object.values(counts).reduce((a, b) => a + b, 0);
    expect(statuses.reduce((sum, s) => sum + Number(s.last_version), 0)).toBe(total);
  });
});
