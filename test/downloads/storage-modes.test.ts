import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Actor } from '../../src/actor.js';
import { createDownloadUrl } from '../../src/api/downloads.js';
import { loadReportState } from '../../src/reports/load-report.js';
import { RenderPool } from '../../src/render/render-pool.js';
import { requestReport } from '../../src/reports/request-report.js';
import { backends, openTestDatabase, type TestDatabase } from '../support/databases.js';
import { freePort, startInstance, type Instance } from '../support/instances.js';
import { countEventsByType } from '../support/runtime.js';

const alice: Actor = { id: 'alice', role: 'user' };
const params = { columns: [{ label: 'A', key: 'a' }], rows: [{ a: 'x' }, { a: 'y' }] };

describe.each(backends)('changing STORAGE_MODE on %s never strands a report', (kind) => {
  let database: TestDatabase;
  let pool: RenderPool;
  const dirs = { reports: mkdtempSync(join(tmpdir(), 'quire-vol-')), objects: mkdtempSync(join(tmpdir(), 'quire-obj-')) };
  let instance: Instance | undefined;

  /** Restarts the one iad instance in `mode`, on the same volume, object store and database. */
  const restartIn = async (mode: string) => {
    await instance?.close();
    const port = await freePort();
    instance = await startInstance(kind, database, 'iad', port, { STORAGE_MODE: mode, REPORTS_DIR: dirs.reports, OBJECTS_DIR: dirs.objects }, pool);
    return instance;
  };

  const fetchSha = async (i: Instance, reportId: string) => {
    const { url, source } = await createDownloadUrl(i.runtime, reportId, alice);
    const response = await fetch(url);
    expect(response.status).toBe(200);
    return { source, sha256: createHash('sha256').update(Buffer.from(await response.arrayBuffer())).digest('hex') };
  };

  beforeAll(async () => {
    database = await openTestDatabase(kind);
    pool = new RenderPool({ size: 1 });
  });
  afterAll(async () => {
    await instance?.close();
    await pool?.close();
    await database?.close();
    for (const d of Object.values(dirs)) rmSync(d, { recursive: true, force: true });
  });

  it('volume → mirror → object', async () => {
    // volume: the legacy behaviour, a file on the volume and nothing else.
    let i = await restartIn('volume');
    expect(i.workers.replicate).toBeUndefined();
    const old = await requestReport(i.runtime.store, { template: 'table', title: 'Made in volume mode', params }, alice);
    await i.workers.render.drain();
    const oldState = await loadReportState(i.runtime.store.db, old.reportId);
    expect(oldState).toMatchObject({ status: 'STORED' });
    expect(await fetchSha(i, old.reportId)).toEqual({ source: 'LOCAL_VOLUME', sha256: oldState!.sha256 });

    // mirror: the old report still downloads, and is copied to the object store.
    i = await restartIn('mirror');
    expect(await fetchSha(i, old.reportId)).toEqual({ source: 'LOCAL_VOLUME', sha256: oldState!.sha256 });
    expect(await i.workers.replicate!.drain()).toBe(1);
    expect(await fetchSha(i, old.reportId)).toEqual({ source: 'OBJECT_STORE', sha256: oldState!.sha256 });

    // object: new reports go straight to the object store; both download.
    i = await restartIn('object');
    const fresh = await requestReport(i.runtime.store, { template: 'table', title: 'Made in object mode', params }, alice);
    await i.workers.render.drain();
    const freshState = await loadReportState(i.runtime.store.db, fresh.reportId);
    expect(freshState).toMatchObject({ status: 'REPLICATED' });
    expect(freshState!.locations.map((l) => l.kind)).toEqual(['object']);
    expect((await i.runtime.store.readStream(fresh.streamId)).map((e) => e.type)).toEqual(['ReportRequested', 'ReportRendered', 'ReportReplicated']);
    expect(await fetchSha(i, fresh.reportId)).toEqual({ source: 'OBJECT_STORE', sha256: freshState!.sha256 });
    expect(await fetchSha(i, old.reportId)).toEqual({ source: 'OBJECT_STORE', sha256: oldState!.sha256 });

    const counts = await countEventsByType(i.runtime);
    expect(counts).toEqual({ ReportRequested: 2, ReportRendered: 2, ReportStoredLocal: 1, ReportReplicated: 2 });
  });
});
