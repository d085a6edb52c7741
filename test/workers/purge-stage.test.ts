/**
 * The purge stage during an object-store outage, on both backends and the real S3 test server:
 * the volume copy is purged at once, the object copy is tried again with backoff (a handful of
 * warnings, not one per poll), and once the store is back every copy is purged and every event is
 * accounted for.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/log.js';
import { loadReportState } from '../../src/reports/load-report.js';
import { RenderPool } from '../../src/render/render-pool.js';
import { deleteReport } from '../../src/reports/delete-report.js';
import { requestReport } from '../../src/reports/request-report.js';
import { createWorkers, type Workers } from '../../src/workers/start-workers.js';
import { waitFor } from '../support/collect.js';
import { backends } from '../support/databases.js';
import { countEventsByType, startTestRuntime, type TestRuntime } from '../support/runtime.js';
import { startS3Server, type TestS3Server } from '../support/s3-server.js';

const alice = { id: 'alice', role: 'user' } as const;
const params = { columns: [{ label: 'A', key: 'a' }], rows: [{ a: 1 }] };

describe.each(backends)('purging through an object-store outage on %s', (kind) => {
  let s3: TestS3Server;
  let runtime: TestRuntime;
  let pool: RenderPool;
  let workers: Workers;
  const warnings: Array<{ msg: string; attempts?: number; reportId?: string }> = [];

  beforeAll(async () => {
    s3 = await startS3Server();
    const log = createLogger('warn', 'iad', { write: (line: string) => void warnings.push(JSON.parse(line)) });
    // RETRY_BASE_MS 200: tries at about 0, 0.2, 0.6, 1.4, 3 s… while the loop polls every 50 ms.
    runtime = await startTestRuntime(kind, { ...s3.env, STORAGE_MODE: 'mirror', WORKER_POLL_MS: '50', RETRY_BASE_MS: '200' }, { log });
    pool = new RenderPool({ size: 1 });
    workers = createWorkers(runtime, { pool, owner: 'purger' });
  });
  afterAll(async () => {
    await workers?.stop();
    await pool?.close();
    await runtime?.close();
    await s3?.close();
  });

  it('backs off on the failing store, purges the volume copy meanwhile, and every copy once the store is back', async () => {
    const { reportId, streamId } = await requestReport(runtime.store, { template: 'table', title: 'Purged late', params }, alice);
    expect(await workers.render.drain()).toBe(1);
    expect(await workers.replicate!.drain()).toBe(1);
    const state = (await loadReportState(runtime.store.db, reportId))!;
    expect(state.status).toBe('REPLICATED');
    const volumeKey = state.locations.find((l) => l.kind === 'volume')!.key;
    const objectKey = state.locations.find((l) => l.kind === 'object')!.key;

    await s3.stop();
    await deleteReport(runtime.store, reportId, alice);
    workers.purge.start();
    // The volume copy goes at once; the object copy stays listed.
    await waitFor(async () => (await countEventsByType(runtime, streamId))['ReportPurged'] === 1, 20_000, 'the volume copy purged');
    expect(await runtime.volume.size(volumeKey)).toBeNull();
    // About 40 polls in two seconds: the failing copy is tried a few times, not at every poll.
    await new Promise((r) => setTimeout(r, 2000));
    const failed = warnings.filter((w) => w.msg === 'purge of a copy failed; tried again later');
    expect(failed.length).toBeGreaterThanOrEqual(2);
    expect(failed.length).toBeLessThanOrEqual(6);
    expect(failed.map((w) => w.attempts)).toEqual(failed.map((_, i) => i + 1));
    expect((await loadReportState(runtime.store.db, reportId))!.locations.map((l) => l.kind)).toEqual(['object']);

    await s3.start();
    await waitFor(async () => (await countEventsByType(runtime, streamId))['ReportPurged'] === 2, 30_000, 'the object copy purged after the outage');
    await workers.purge.stop();
    expect(await runtime.objectStore.head(objectKey)).toBeNull();
    expect((await loadReportState(runtime.store.db, reportId))!).toMatchObject({ status: 'DELETED', locations: [] });
    // Every event accounted for: no event for a failed deletion, one ReportPurged per copy.
    expect(await countEventsByType(runtime)).toEqual({ ReportRequested: 1, ReportRendered: 1, ReportStoredLocal: 1, ReportReplicated: 1, ReportDeleted: 1, ReportPurged: 2 });
    expect(await workers.purge.drain()).toBe(0);
  }, 90_000);
});
