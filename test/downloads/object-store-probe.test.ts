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
import { ObjectStoreUnavailableError } from '../../src/storage/object-store.js';
import { gqlHttp } from '../graphql/client.js';
import { CreateDownloadUrlDocument } from '../graphql/gql/graphql.js';
import { backends, openTestDatabase, type TestDatabase } from '../support/databases.js';
import { freePort, startInstance, type Instance } from '../support/instances.js';
import { countEventsByType } from '../support/runtime.js';
import { startS3Server, type TestS3Server } from '../support/s3-server.js';

const alice: Actor = { id: 'alice', role: 'user' };
const params = { columns: [{ label: 'A', key: 'a' }], rows: [{ a: 'x' }, { a: 'y' }] };
const sha = (b: ArrayBuffer) => createHash('sha256').update(Buffer.from(b)).digest('hex');

// Found by the soak: during an object-store outage, a machine that had not talked to the store
// since it went down (it copied nothing) still handed out presigned links, and clients failed at
// the store with a connection error, outside quire and untyped. Before a link goes out the store is
// asked (unless a call succeeded a moment ago): down → the volume copy, or a typed error.
describe.each(backends)('createDownloadUrl while the object store is down, on a machine that has not noticed, on %s', (kind) => {
  let database: TestDatabase;
  let s3: TestS3Server;
  let pool: RenderPool;
  let instance: Instance | undefined;
  const reportsDir = mkdtempSync(join(tmpdir(), 'quire-vol-'));
  const ids: Record<'mirrored' | 'objectOnly', string> = { mirrored: '', objectOnly: '' };
  let eventsBefore: Record<string, number> = {};

  /** A fresh machine on the same volume: it has made no call to the store yet. */
  const restartIn = async (mode: string) => {
    await instance?.close();
    instance = await startInstance(kind, database, 'iad', await freePort(), { ...s3.env, STORAGE_MODE: mode, REPORTS_DIR: reportsDir, RETRY_BASE_MS: '100' }, pool);
    return instance;
  };

  beforeAll(async () => {
    database = await openTestDatabase(kind);
    s3 = await startS3Server();
    pool = new RenderPool({ size: 1 });
    // One report copied to the store with its volume copy kept (mirror), one only in the store (object).
    let i = await restartIn('mirror');
    ids.mirrored = (await requestReport(i.runtime.store, { template: 'table', title: 'Mirrored', params }, alice)).reportId;
    await i.workers.render.drain();
    await i.workers.replicate!.drain();
    i = await restartIn('object');
    ids.objectOnly = (await requestReport(i.runtime.store, { template: 'table', title: 'Object only', params }, alice)).reportId;
    await i.workers.render.drain();
    expect((await loadReportState(database.db, ids.mirrored))!.status).toBe('REPLICATED');
    expect((await loadReportState(database.db, ids.objectOnly))!.locations.map((l) => l.kind)).toEqual(['object']);
    eventsBefore = await countEventsByType(i.runtime);
  });

  afterAll(async () => {
    await instance?.close();
    await pool?.close();
    await s3?.close();
    await database?.close();
    rmSync(reportsDir, { recursive: true, force: true });
  });

  it('a report with a volume copy is served from the volume, with its sha256', async () => {
    const i = await restartIn('mirror');
    await s3.stop();
    const url = await createDownloadUrl(i.runtime, ids.mirrored, alice);
    expect(url.source).toBe('LOCAL_VOLUME');
    const response = await fetch(url.url);
    expect(response.status).toBe(200);
    expect(sha(await response.arrayBuffer())).toBe((await loadReportState(database.db, ids.mirrored))!.sha256);
  });

  it('a report only in the store is a typed OBJECT_STORE_UNAVAILABLE, through GraphQL too, and a link again once the store is back', async () => {
    const i = await restartIn('object');
    await expect(createDownloadUrl(i.runtime, ids.objectOnly, alice)).rejects.toBeInstanceOf(ObjectStoreUnavailableError);
    const token = await i.runtime.userTokens.sign(alice, 600);
    const res = await gqlHttp(i.http.url, CreateDownloadUrlDocument, { reportId: ids.objectOnly }, token);
    expect(res.errors).toBeUndefined();
    expect(res.data!.createDownloadUrl).toMatchObject({ __typename: 'ObjectStoreUnavailableError', code: 'OBJECT_STORE_UNAVAILABLE' });

    await s3.start();
    const url = await createDownloadUrl(i.runtime, ids.objectOnly, alice);
    expect(url.source).toBe('OBJECT_STORE');
    const response = await fetch(url.url);
    expect(response.status).toBe(200);
    expect(sha(await response.arrayBuffer())).toBe((await loadReportState(database.db, ids.objectOnly))!.sha256);
    // Asking for links appended nothing: both reports' histories are as the workers left them.
    expect(await countEventsByType(i.runtime)).toEqual(eventsBefore);
    expect(eventsBefore['ReportRequested']).toBe(2);
  });
});
