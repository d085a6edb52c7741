/**
 * Retention end to end, on both backends and the real S3 test server: a report's expiry (requested
 * through GraphQL, swept, purged from the volume AND the bucket, each copy by whoever may delete
 * it), deletion by its owner and refusal to anyone else, legal hold, GONE on every download path,
 * and a log that still verifies.
 */
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Actor } from '../../src/actor.js';
import { startHttpServer, type HttpServer } from '../../src/api/http-server.js';
import { verifyLog } from '../../src/audit/verify.js';
import { loadReportState } from '../../src/reports/load-report.js';
import { RenderPool } from '../../src/render/render-pool.js';
import { deleteReport } from '../../src/reports/delete-report.js';
import { GoneError } from '../../src/reports/errors.js';
import { reportStreamId, type ReportState } from '../../src/reports/report-state.js';
import { requestReport } from '../../src/reports/request-report.js';
import { retryReport } from '../../src/reports/retry-report.js';
import { createWorkers, type Workers } from '../../src/workers/start-workers.js';
import { gqlHttp, gqlWs, subscribe, connected } from '../graphql/client.js';
import {
  CreateDownloadUrlDocument,
  DeleteReportDocument,
  HoldReportDocument,
  ReleaseReportDocument,
  ReportProgressDocument,
  ReportStatusDocument,
  RequestReportDocument,
} from '../graphql/gql/graphql.js';
import { waitFor } from '../support/collect.js';
import { backends } from '../support/databases.js';
import { freePort } from '../support/instances.js';
import { countEventsByType, startTestRuntime, type TestRuntime } from '../support/runtime.js';
import { untilAllSafe } from '../support/safe-log.js';
import { startS3Server, type TestS3Server } from '../support/s3-server.js';

const alice: Actor = { id: 'alice', role: 'user' };
const bob: Actor = { id: 'bob', role: 'user' };
const audra: Actor = { id: 'audra', role: 'auditor' };
const root: Actor = { id: 'root', role: 'admin' };
const params = { columns: [{ label: 'A', key: 'a' }], rows: [{ a: 1 }] };
const RETENTION = { RETENTION_DEFAULT: 'P1D,summary=PT1H', RETENTION_MAX: 'P7D' };

describe.each(backends)('retention in mirror mode on %s', (kind) => {
  let s3: TestS3Server;
  /** Machine iad-1 (holds the volume copies; serves HTTP) and iad-2 (same region, same bucket, its own volume). */
  let a: TestRuntime;
  let b: TestRuntime;
  let http: HttpServer;
  let pool: RenderPool;
  let wa: Workers;
  let wb: Workers;
  const token = (actor: Actor) => a.userTokens.sign(actor, 600);
  const gql = async <R, V>(doc: TypedDocumentNode<R, V>, vars: V, actor: Actor): Promise<R> => {
    const res = await gqlHttp(http.url, doc, vars, await token(actor));
    expect(res.errors).toBeUndefined();
    return res.data!;
  };

  beforeAll(async () => {
    s3 = await startS3Server();
    const env = { ...s3.env, STORAGE_MODE: 'mirror', WORKER_POLL_MS: '50', ...RETENTION };
    a = await startTestRuntime(kind, { ...env, MACHINE_ID: 'iad-1' });
    b = await startTestRuntime(kind, { ...env, MACHINE_ID: 'iad-2' }, { database: a.database });
    http = await startHttpServer(a, await freePort(), '127.0.0.1');
    pool = new RenderPool({ size: 1 });
    wa = createWorkers(a, { pool, owner: 'worker-a' });
    wb = createWorkers(b, { pool, owner: 'worker-b' });
  });
  afterAll(async () => {
    await wa?.stop();
    await wb?.stop();
    await http?.close();
    await pool?.close();
    await b?.close();
    await a?.close();
    await s3?.close();
  });

  /** A report of `owner`, rendered on iad-1 and copied to the bucket: one volume copy, one object copy. */
  async function replicated(owner: Actor, options: { retainFor?: string; now?: Date } = {}) {
    const { reportId } = await requestReport(
      a.store,
      { template: 'table', title: `${owner.id}’s`, params, ...(options.retainFor ? { retainFor: options.retainFor } : {}) },
      owner,
      { retention: a.config.retention, ...(options.now ? { now: options.now } : {}) },
    );
    expect(await wa.render.drain()).toBe(1);
    expect(await wa.replicate!.drain()).toBe(1);
    const state = (await loadReportState(a.store.db, reportId))!;
    expect(state.status).toBe('REPLICATED');
    return state;
  }

  const volumeCopy = (s: ReportState) => s.locations.find((l) => l.kind === 'volume')!;
  const objectCopy = (s: ReportState) => s.locations.find((l) => l.kind === 'object')!;

  it('expiry end to end: retainFor through GraphQL, the sweep, GONE everywhere, each copy purged by whoever may delete it', async () => {
    const requested = await gql(RequestReportDocument, { input: { template: 'table', title: 'Short-lived', params, retainFor: 'PT2S' } }, alice);
    if (requested.requestReport.__typename !== 'MutationRequestReportSuccess') throw new Error(JSON.stringify(requested));
    const { reportId, expiresAt } = requested.requestReport.data;
    expect(Date.parse(String(expiresAt)) - Date.now()).toBeGreaterThan(0);
    expect(Date.parse(String(expiresAt)) - Date.now()).toBeLessThanOrEqual(2000);
    expect(await wa.render.drain()).toBe(1);
    expect(await wa.replicate!.drain()).toBe(1);
    const live = (await loadReportState(a.store.db, reportId))!;
    const vol = volumeCopy(live);
    const obj = objectCopy(live);
    expect(await a.volume.size(vol.key)).toBe(live.bytes);
    expect((await a.objectStore.head(obj.key))?.bytes).toBe(live.bytes);
    // A /files link handed out while the report was live.
    const { token: fileToken } = await a.fileTokens.sign(
      { reportId, key: vol.key, location: 'volume', region: 'iad', machine: 'iad-1', sha256: vol.sha256, filename: 'x.pdf' },
      600,
    );
    expect((await fetch(`${http.url}/files/${fileToken}`)).status).toBe(200);

    await waitFor(() => Date.now() > Date.parse(String(expiresAt)) + 50, 5000, 'the expiry to pass');
    await waitFor(async () => (await wb.expire.drain()) === 1, 5000, 'the sweep to expire the report');
    const expired = (await loadReportState(a.store.db, reportId))!;
    expect(expired).toMatchObject({ status: 'EXPIRED', expiresAt: new Date(String(expiresAt)) });
    expect(expired.goneAt).not.toBeNull();

    // GONE on every path, while the bytes are still there (not yet purged).
    const url = await gql(CreateDownloadUrlDocument, { reportId }, alice);
    expect(url.createDownloadUrl).toMatchObject({ __typename: 'GoneError', code: 'GONE', status: 'EXPIRED' });
    const rest = await fetch(`${http.url}/reports/${reportId}/download`, { headers: { authorization: `Bearer ${await token(alice)}` }, redirect: 'manual' });
    expect(rest.status).toBe(410);
    expect((await rest.json()).error.code).toBe('GONE');
    const file = await fetch(`${http.url}/files/${fileToken}`);
    expect(file.status).toBe(410);
    expect((await file.json()).error.code).toBe('GONE');
    // Someone else still learns nothing.
    expect((await gql(CreateDownloadUrlDocument, { reportId }, bob)).createDownloadUrl.__typename).toBe('NotFoundError');

    // iad-2 holds no volume copy: it purges the object copy (any instance may), never iad-1's file.
    expect(await wb.purge.drain()).toBe(1);
    expect(await a.objectStore.head(obj.key)).toBeNull();
    expect(await a.volume.size(vol.key)).toBe(live.bytes);
    expect((await loadReportState(a.store.db, reportId))!.locations.map((l) => l.kind)).toEqual(['volume']);
    expect(await wb.purge.drain()).toBe(0);
    // The machine holding the volume copy deletes it.
    expect(await wa.purge.drain()).toBe(1);
    expect(await a.volume.size(vol.key)).toBeNull();
    expect(await wa.purge.drain()).toBe(0);

    const gone = (await loadReportState(a.store.db, reportId))!;
    expect(gone).toMatchObject({ status: 'EXPIRED', locations: [] });
    expect(await a.store.db.selectFrom('report_locations').selectAll().where('report_id', '=', reportId).execute()).toEqual([]);
    expect(await countEventsByType(a, reportStreamId(reportId))).toEqual({
      ReportRequested: 1,
      ReportRendered: 1,
      ReportStoredLocal: 1,
      ReportReplicated: 1,
      ReportExpired: 1,
      ReportPurged: 2,
    });
    // A link after the purge: still GONE, never a dangling 200 or a 500.
    expect((await fetch(`${http.url}/files/${fileToken}`)).status).toBe(410);
  });

  it('delete by the owner: DELETED at once, live subscriptions see it and complete, copies purged; anyone else refused, nothing appended', async () => {
    const state = await replicated(alice);
    const { reportId } = state;
    expect(await gql(DeleteReportDocument, { id: reportId }, bob)).toMatchObject({ deleteReport: { __typename: 'NotFoundError', code: 'NOT_FOUND' } });
    expect(await gql(DeleteReportDocument, { id: reportId }, audra)).toMatchObject({ deleteReport: { __typename: 'ForbiddenError', code: 'FORBIDDEN' } });
    expect((await loadReportState(a.store.db, reportId))!.version).toBe(state.version);

    const ws = gqlWs(http.url, await token(alice));
    try {
      const sub = subscribe(ws, ReportStatusDocument, { id: reportId });
      await connected(ws);
      await sub.waitFor((d) => d.reportStatus.status === 'REPLICATED');
      const deleted = await gql(DeleteReportDocument, { id: reportId, reason: 'sent to the wrong client' }, alice);
      expect(deleted.deleteReport).toMatchObject({ __typename: 'MutationDeleteReportSuccess', data: { status: 'DELETED', held: false } });
      await sub.waitFor((d) => d.reportStatus.status === 'DELETED');
      expect(await sub.done()).toEqual({});
    } finally {
      await ws.dispose();
    }
    // Twice: GONE, for the owner and for an admin.
    expect(await gql(DeleteReportDocument, { id: reportId }, alice)).toMatchObject({ deleteReport: { __typename: 'GoneError', status: 'DELETED' } });
    await expect(deleteReport(a.store, reportId, root)).rejects.toBeInstanceOf(GoneError);
    await expect(retryReport(a.store, reportId, alice)).rejects.toBeInstanceOf(GoneError);

    expect(await wa.purge.drain()).toBe(1);
    expect(await a.volume.size(volumeCopy(state).key)).toBeNull();
    expect(await a.objectStore.head(objectCopy(state).key)).toBeNull();
    const events = await a.store.readStream(reportStreamId(reportId));
    expect(events.filter((e) => e.type === 'ReportDeleted').map((e) => [e.data, e.metadata.actor])).toEqual([[{ by: 'alice', reason: 'sent to the wrong client' }, 'alice']]);
    expect(events.filter((e) => e.type === 'ReportPurged')).toHaveLength(2);
  });

  it('a request repeated with its idempotency key after the report was deleted answers GONE, appends nothing', async () => {
    const input = { template: 'table', title: 'Keyed', params: { columns: [{ label: 'A', key: 'a' }], rows: [{ a: 1 }] }, idempotencyKey: 'keyed-then-deleted' };
    const { reportId } = await requestReport(a.store, input, alice);
    expect((await requestReport(a.store, input, alice)).reportId).toBe(reportId);
    await deleteReport(a.store, reportId, alice);
    const before = (await a.store.readStream(`report-${reportId}`)).length;
    await expect(requestReport(a.store, input, alice)).rejects.toBeInstanceOf(GoneError);
    expect((await a.store.readStream(`report-${reportId}`)).length).toBe(before);
  });

  it('a subscription to a report that is already gone sends its final state and completes', async () => {
    const state = await replicated(alice);
    await deleteReport(a.store, state.reportId, alice);
    const ws = gqlWs(http.url, await token(alice));
    try {
      const sub = subscribe(ws, ReportStatusDocument, { id: state.reportId });
      expect(await sub.done()).toEqual({});
      expect(sub.data.map((d) => d.reportStatus.status)).toEqual(['DELETED']);
      // Nothing will render it again: its progress stream ends at once too, rather than staying open until the token expires.
      const progress = subscribe(ws, ReportProgressDocument, { id: state.reportId });
      expect(await progress.done()).toEqual({});
      expect(progress.data).toEqual([]);
    } finally {
      await ws.dispose();
    }
    expect(await wa.purge.drain()).toBe(1);
  });

  it('legal hold (admins only) blocks deletion and expiry; after release the expiry happens and deletion works', async () => {
    // Expired a minute ago, as far as its retention goes.
    const expiring = await replicated(alice, { retainFor: 'PT30S', now: new Date(Date.now() - 90_000) });
    const kept = await replicated(alice);

    expect(await gql(HoldReportDocument, { id: expiring.reportId }, alice)).toMatchObject({ holdReport: { __typename: 'ForbiddenError' } });
    expect(await gql(HoldReportDocument, { id: kept.reportId }, bob)).toMatchObject({ holdReport: { __typename: 'NotFoundError' } });
    for (const { reportId } of [expiring, kept]) {
      expect(await gql(HoldReportDocument, { id: reportId, reason: 'litigation' }, root)).toMatchObject({ holdReport: { data: { held: true } } });
    }
    expect(await gql(HoldReportDocument, { id: kept.reportId }, root)).toMatchObject({ holdReport: { __typename: 'HeldError', code: 'HELD' } });

    // Held: the sweep passes it over, and neither the owner nor an admin can delete it.
    expect(await wa.expire.drain()).toBe(0);
    expect(await gql(DeleteReportDocument, { id: kept.reportId }, alice)).toMatchObject({ deleteReport: { __typename: 'HeldError' } });
    expect(await gql(DeleteReportDocument, { id: expiring.reportId }, root)).toMatchObject({ deleteReport: { __typename: 'HeldError' } });
    expect((await loadReportState(a.store.db, expiring.reportId))!.status).toBe('REPLICATED');
    expect(await gql(CreateDownloadUrlDocument, { reportId: kept.reportId }, alice)).toMatchObject({ createDownloadUrl: { __typename: 'MutationCreateDownloadUrlSuccess' } });

    expect(await gql(ReleaseReportDocument, { id: kept.reportId }, alice)).toMatchObject({ releaseReport: { __typename: 'ForbiddenError' } });
    for (const { reportId } of [expiring, kept]) {
      expect(await gql(ReleaseReportDocument, { id: reportId }, root)).toMatchObject({ releaseReport: { data: { held: false } } });
    }
    expect(await gql(ReleaseReportDocument, { id: kept.reportId }, root)).toMatchObject({ releaseReport: { __typename: 'NotHeldError', code: 'NOT_HELD' } });

    expect(await wa.expire.drain()).toBe(1);
    expect((await loadReportState(a.store.db, expiring.reportId))!.status).toBe('EXPIRED');
    expect(await gql(DeleteReportDocument, { id: kept.reportId }, alice)).toMatchObject({ deleteReport: { data: { status: 'DELETED' } } });
    expect(await wa.purge.drain()).toBe(2);
    for (const s of [expiring, kept]) {
      expect(await a.volume.size(volumeCopy(s).key)).toBeNull();
      expect(await a.objectStore.head(objectCopy(s).key)).toBeNull();
    }
  });

  it('retainFor / expiresAt: the template’s default, at most RETENTION_MAX; bad input is INVALID_PARAMS and appends nothing', async () => {
    const before = await countEventsByType(a);
    const request = (input: Record<string, unknown>) =>
      gql(RequestReportDocument, { input: { template: 'table', title: 'Kept', params, ...input } }, alice).then((d) => d.requestReport);
    const invalid = async (input: Record<string, unknown>, path: string) => {
      const res = await request(input);
      expect(res).toMatchObject({ __typename: 'InvalidParamsError', code: 'INVALID_PARAMS' });
      expect(res.__typename === 'InvalidParamsError' && res.issues.map((i) => i.path)).toEqual([path]);
    };
    await invalid({ retainFor: 'P8D' }, 'retainFor');
    await invalid({ expiresAt: new Date(Date.now() + 30 * 86_400_000).toISOString() }, 'expiresAt');
    await invalid({ expiresAt: new Date(Date.now() - 1000).toISOString() }, 'expiresAt');
    await invalid({ retainFor: 'P1M' }, 'retainFor');
    await invalid({ retainFor: '3600' }, 'retainFor');
    await invalid({ retainFor: 'PT1H', expiresAt: new Date(Date.now() + 3_600_000).toISOString() }, 'retainFor');
    expect(await countEventsByType(a)).toEqual(before);

    const t0 = Date.now();
    const byDefault = await request({});
    const week = await request({ retainFor: 'P7D', title: 'A week' });
    const at = new Date(Date.now() + 3 * 86_400_000).toISOString();
    const until = await request({ expiresAt: at, title: 'Until' });
    const expiry = (r: typeof byDefault) => (r.__typename === 'MutationRequestReportSuccess' ? Date.parse(String(r.data.expiresAt)) : NaN);
    expect(expiry(byDefault) - t0).toBeGreaterThanOrEqual(86_400_000 - 1000);
    expect(expiry(byDefault) - t0).toBeLessThanOrEqual(86_400_000 + 5000);
    expect(expiry(week) - t0).toBeGreaterThanOrEqual(7 * 86_400_000 - 1000);
    expect(expiry(until)).toBe(Date.parse(at));
    // Not due yet: the sweep claims none of them.
    expect(await wa.expire.drain()).toBe(0);
    // summary's own default (summary=PT1H).
    const summary = { kpis: [{ label: 'Revenue', value: 1 }], series: { label: 'Orders', points: [{ label: 'Jan', value: 1 }] } };
    const { reportId } = await requestReport(a.store, { template: 'summary', title: 'S', params: summary }, alice, { retention: a.config.retention });
    const hour = (await loadReportState(a.store.db, reportId))!.expiresAt!.getTime() - Date.now();
    expect(hour).toBeGreaterThan(3_500_000);
    expect(hour).toBeLessThanOrEqual(3_600_000);
    // Leave nothing for the other tests' drains.
    for (const r of [byDefault, week, until]) if (r.__typename === 'MutationRequestReportSuccess') await deleteReport(a.store, r.data.reportId, alice);
    await deleteReport(a.store, reportId, alice);
  });

  it('a report deleted while it renders: the render is discarded and its file removed, never an unrecorded copy', async () => {
    const big = { columns: [{ label: 'A', key: 'a' }, { label: 'B', key: 'b' }], rows: Array.from({ length: 4000 }, (_, i) => ({ a: `row ${i}`, b: i })) };
    const { reportId } = await requestReport(a.store, { template: 'table', title: 'Big', params: big }, alice);
    const rendering = wa.render.drain();
    await waitFor(
      async () => (await a.store.db.selectFrom('work_leases').select('report_id').where('report_id', '=', reportId).where('stage', '=', 'render').executeTakeFirst()) !== undefined,
      10_000,
      'the render to be claimed',
    );
    await deleteReport(a.store, reportId, alice);
    expect(await rendering).toBe(1);
    expect(readdirSync(join(a.config.reportsDir, 'reports', reportId), { withFileTypes: true }).filter((f) => f.isFile())).toEqual([]);
    expect(await countEventsByType(a, reportStreamId(reportId))).toEqual({ ReportRequested: 1, ReportDeleted: 1 });
    expect(await wa.purge.drain()).toBe(0);
  });

  it('audit verify still passes after expiries, deletions and purges', async () => {
    // verify reads the log safely: wait until the last purges are below the cluster's running transactions.
    await untilAllSafe(a.database.db);
    const report = await verifyLog(a.database.db, { publicKeys: a.sealKeys.trusted, cursor: kind === 'postgres' });
    expect(report.problems).toEqual([]);
    expect(report.ok).toBe(true);
    expect(report.events).toBeGreaterThan(20);
  });
});

describe.each(backends)('retention in object mode (disk store shared by two instances) on %s', (kind) => {
  let a: TestRuntime;
  let b: TestRuntime;
  let pool: RenderPool;
  let wa: Workers;
  let wb: Workers;
  const objects = mkdtempSync(join(tmpdir(), 'quire-objects-'));

  beforeAll(async () => {
    const env = { STORAGE_MODE: 'object', OBJECTS_DIR: objects, WORKER_POLL_MS: '50' };
    a = await startTestRuntime(kind, { ...env, MACHINE_ID: 'iad-1' });
    b = await startTestRuntime(kind, { ...env, MACHINE_ID: 'iad-2' }, { database: a.database });
    pool = new RenderPool({ size: 1 });
    wa = createWorkers(a, { pool, owner: 'worker-a' });
    wb = createWorkers(b, { pool, owner: 'worker-b' });
  });
  afterAll(async () => {
    await wa?.stop();
    await wb?.stop();
    await pool?.close();
    await b?.close();
    await a?.close();
    rmSync(objects, { recursive: true, force: true });
  });

  it('any instance purges an object copy; the file is really gone from the store', async () => {
    const { reportId } = await requestReport(a.store, { template: 'table', title: 'Object', params }, alice);
    expect(await wa.render.drain()).toBe(1);
    const state = (await loadReportState(a.store.db, reportId))!;
    expect(state).toMatchObject({ status: 'REPLICATED', locations: [{ kind: 'object' }] });
    const key = state.locations[0]!.key;
    expect((await a.objectStore.head(key))?.bytes).toBe(state.bytes);
    await deleteReport(a.store, reportId, root, { reason: 'operator' });
    expect(await wb.purge.drain()).toBe(1);
    expect(await a.objectStore.head(key)).toBeNull();
    expect(await b.objectStore.head(key)).toBeNull();
    expect(await wa.purge.drain()).toBe(0);
    expect(await countEventsByType(a, reportStreamId(reportId))).toEqual({ ReportRequested: 1, ReportRendered: 1, ReportReplicated: 1, ReportDeleted: 1, ReportPurged: 1 });
    expect((await loadReportState(a.store.db, reportId))!.locations).toEqual([]);
  });
});
