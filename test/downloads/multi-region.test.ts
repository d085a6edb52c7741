import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Actor } from '../../src/actor.js';
import { createDownloadUrl } from '../../src/api/downloads.js';
import { startMetricsServer } from '../../src/api/metrics-server.js';
import { loadReportState } from '../../src/reports/load-report.js';
import { RenderPool } from '../../src/render/render-pool.js';
import { requestReport } from '../../src/reports/request-report.js';
import { NotReadyError } from '../../src/storage/download-errors.js';
import { backends, openTestDatabase, type TestDatabase } from '../support/databases.js';
import { freePort, startInstance, type Instance } from '../support/instances.js';
import { countEventsByType } from '../support/runtime.js';
import { startS3Server, type TestS3Server } from '../support/s3-server.js';

const alice: Actor = { id: 'alice', role: 'user' };
const mallory: Actor = { id: 'mallory', role: 'user' };
const params = (rows: number) => ({
  columns: [{ label: 'Item', key: 'item' }, { label: 'Qty', key: 'qty', align: 'right', format: 'number' }],
  rows: Array.from({ length: rows }, (_, i) => ({ item: `Item ${i}`, qty: i })),
});
const sha = (b: ArrayBuffer) => createHash('sha256').update(Buffer.from(b)).digest('hex');

/**
 * Follows redirects by hand (each hop is one of our instances, or the object store). Like a
 * browser, it sends the caller's headers (Authorization) to the first hop only.
 */
async function download(url: string, init: RequestInit = {}): Promise<{ response: Response; hops: string[] }> {
  const hops = [url];
  for (let i = 0; i < 5; i++) {
    const response = await fetch(hops.at(-1)!, { ...(i === 0 ? init : {}), redirect: 'manual' });
    if (response.status !== 302 && response.status !== 307) return { response, hops };
    hops.push(new URL(response.headers.get('location')!, hops.at(-1)).toString());
  }
  throw new Error(`too many redirects: ${hops.join(' → ')}`);
}

describe.each(backends.flatMap((kind) => (['s3', 'disk'] as const).map((store) => [kind, store] as const)))(
  'downloads from every region on %s with the %s object store',
  (kind, storeKind) => {
    let database: TestDatabase;
    let s3: TestS3Server | undefined;
    let objectsDir: string;
    let pool: RenderPool;
    let iad: Instance;
    let lax: Instance;
    let syd: Instance;
    let reportId: string;
    let expectedSha: string;

    beforeAll(async () => {
      database = await openTestDatabase(kind);
      pool = new RenderPool({ size: 2 });
      objectsDir = mkdtempSync(join(tmpdir(), 'quire-objects-'));
      let storeEnv: Record<string, string>;
      if (storeKind === 's3') {
        s3 = await startS3Server();
        storeEnv = s3.env;
      } else {
        // The disk store stands in for shared storage: every instance points at one directory.
        storeEnv = { OBJECTS_DIR: objectsDir };
      }
      const [pIad, pLax, pSyd] = await Promise.all([freePort(), freePort(), freePort()]);
      const regionUrls = `iad=http://127.0.0.1:${pIad},lax=http://127.0.0.1:${pLax}`;
      iad = await startInstance(kind, database, 'iad', pIad, { ...storeEnv, REGION_URLS: regionUrls, FLY_REPLAY: 'false', RETRY_BASE_MS: '400' }, pool);
      lax = await startInstance(kind, database, 'lax', pLax, { ...storeEnv, REGION_URLS: regionUrls, FLY_REPLAY: 'false' }, pool);
      // syd runs "on Fly": another region's file is answered with fly-replay.
      syd = await startInstance(kind, database, 'syd', pSyd, { ...storeEnv, FLY_REPLAY: 'true' }, pool);
    });

    afterAll(async () => {
      for (const instance of [iad, lax, syd]) await instance?.close();
      await pool?.close();
      await s3?.close();
      await database?.close();
      rmSync(objectsDir, { recursive: true, force: true });
    });

    it('before a file exists, the answer is NOT_READY with the status', async () => {
      ({ reportId } = await requestReport(iad.runtime.store, { template: 'table', title: 'Q3 / "Sales" Ünïcode', params: params(30) }, alice));
      const attempt = createDownloadUrl(lax.runtime, reportId, alice);
      await expect(attempt).rejects.toBeInstanceOf(NotReadyError);
      await expect(attempt).rejects.toMatchObject({ code: 'NOT_READY', status: 'REQUESTED' });
    });

    it('a report stored in iad downloads from iad (its volume) and from lax (redirected to iad)', async () => {
      expect(await iad.workers.render.drain()).toBe(1);
      const state = await loadReportState(iad.runtime.store.db, reportId);
      expect(state).toMatchObject({ status: 'STORED' });
      expectedSha = state!.sha256!;

      const local = await createDownloadUrl(iad.runtime, reportId, alice);
      expect(local).toMatchObject({ source: 'LOCAL_VOLUME', region: 'iad' });
      const fromIad = await download(local.url);
      expect(fromIad.response.status).toBe(200);
      expect(fromIad.response.headers.get('etag')).toBe(`"${expectedSha}"`);
      expect(fromIad.response.headers.get('content-disposition')).toMatch(/^attachment; filename="Q3 _ _Sales_ Unicode.pdf"; filename\*=UTF-8''/);
      expect(sha(await fromIad.response.arrayBuffer())).toBe(expectedSha);

      const remote = await createDownloadUrl(lax.runtime, reportId, alice, 60);
      expect(remote).toMatchObject({ source: 'REMOTE_VOLUME', region: 'iad' });
      expect(remote.url.startsWith(lax.http.url)).toBe(true);
      expect(remote.expiresAt.getTime() - Date.now()).toBeLessThanOrEqual(60_000);
      const fromLax = await download(remote.url);
      expect(fromLax.hops).toHaveLength(2);
      expect(fromLax.hops[1]!.startsWith(iad.http.url)).toBe(true);
      expect(fromLax.response.status).toBe(200);
      expect(sha(await fromLax.response.arrayBuffer())).toBe(expectedSha);
    });

    it('on Fly, another machine’s file is answered with fly-replay to the holder', async () => {
      const url = await createDownloadUrl(syd.runtime, reportId, alice);
      expect(url).toMatchObject({ source: 'REMOTE_VOLUME', region: 'iad' });
      const response = await fetch(url.url, { redirect: 'manual' });
      // Exactly the machine that holds it, not any machine of its region.
      expect(response.headers.get('fly-replay')).toBe('instance=iad-1');
      // The same request replayed in iad (Fly's proxy sends it there) is served.
      const replayed = await fetch(url.url.replace(syd.http.url, iad.http.url), { headers: { 'fly-replay-src': 'region=syd' } });
      expect(replayed.status).toBe(200);
      expect(sha(await replayed.arrayBuffer())).toBe(expectedSha);
    });

    it('serves ranges, HEAD and conditional requests in constant memory', async () => {
      const { url } = await createDownloadUrl(iad.runtime, reportId, alice);
      const head = await fetch(url, { method: 'HEAD' });
      const size = Number(head.headers.get('content-length'));
      expect(head.status).toBe(200);
      expect(size).toBeGreaterThan(1000);
      const part = await fetch(url, { headers: { range: 'bytes=10-19' } });
      expect(part.status).toBe(206);
      expect(part.headers.get('content-range')).toBe(`bytes 10-19/${size}`);
      expect((await part.arrayBuffer()).byteLength).toBe(10);
      const past = await fetch(url, { headers: { range: `bytes=${size + 10}-` } });
      expect(past.status).toBe(416);
      const cached = await fetch(url, { headers: { 'if-none-match': `"${expectedSha}"` } });
      expect(cached.status).toBe(304);
    });

    it('after replication every region gets the object store copy', async () => {
      expect(await iad.workers.replicate!.drain()).toBe(1);
      // Only the holder region copies: lax has nothing to replicate.
      expect(await lax.workers.replicate!.drain()).toBe(0);
      const state = await loadReportState(iad.runtime.store.db, reportId);
      expect(state!.status).toBe('REPLICATED');
      expect(state!.locations.map((l) => l.kind).sort()).toEqual(['object', 'volume']);

      for (const instance of [iad, lax, syd]) {
        const url = await createDownloadUrl(instance.runtime, reportId, alice);
        expect(url).toMatchObject({ source: 'OBJECT_STORE', region: null });
        const { response } = await download(url.url);
        expect(response.status).toBe(200);
        expect(response.headers.get('content-disposition')).toMatch(/^attachment; filename=/);
        expect(sha(await response.arrayBuffer())).toBe(expectedSha);
      }
    });

    it('the REST route authenticates, checks the owner and redirects', async () => {
      const token = await lax.runtime.userTokens.sign(alice, 300);
      const route = `${lax.http.url}/reports/${reportId}/download`;
      const ok = await download(route, { headers: { authorization: `Bearer ${token}` } });
      expect(ok.response.status).toBe(200);
      expect(sha(await ok.response.arrayBuffer())).toBe(expectedSha);

      expect((await fetch(route, { redirect: 'manual' })).status).toBe(401);
      const other = await fetch(route, { redirect: 'manual', headers: { authorization: `Bearer ${await lax.runtime.userTokens.sign(mallory, 300)}` } });
      expect(other.status).toBe(404);
      expect(await other.json()).toMatchObject({ error: { code: 'NOT_FOUND' } });
      const expired = await lax.runtime.userTokens.sign(alice, -10);
      expect((await fetch(route, { redirect: 'manual', headers: { authorization: `Bearer ${expired}` } })).status).toBe(401);

      const pending = await requestReport(iad.runtime.store, { template: 'table', title: 'Later', params: params(2) }, alice);
      const notReady = await fetch(`${lax.http.url}/reports/${pending.reportId}/download`, { redirect: 'manual', headers: { authorization: `Bearer ${token}` } });
      expect(notReady.status).toBe(409);
      expect(await notReady.json()).toMatchObject({ error: { code: 'NOT_READY', status: 'REQUESTED', reportId: pending.reportId } });
      await iad.workers.render.drain();
      await iad.workers.replicate!.drain();

      // Metrics are not on the public port at all; the internal one answers without a token.
      expect((await fetch(`${lax.http.url}/metrics`)).status).toBe(404);
      const metricsServer = await startMetricsServer(lax.runtime.metrics, 0, '127.0.0.1');
      const metrics = await (await fetch(`${metricsServer.url}/metrics`)).text();
      await metricsServer.close();
      expect(metrics).toMatch(/quire_download_resolutions_total\{path="object",outcome="ok"\} [1-9]/);
      expect(metrics).toMatch(/quire_download_resolutions_total\{path="none",outcome="not_ready"\} [1-9]/);
    });

    it('refuses tampered, expired, re-targeted and path-traversing links', async () => {
      const state = await loadReportState(iad.runtime.store.db, reportId);
      const volumeCopy = state!.locations.find((l) => l.kind === 'volume')!;
      const { token } = await iad.runtime.fileTokens.sign(
        { reportId, key: volumeCopy.key, location: 'volume', region: 'iad', machine: 'iad-1', sha256: expectedSha, filename: 'r.pdf' },
        1,
      );
      const url = `${iad.http.url}/files/${token}`;
      expect((await fetch(url, { method: 'HEAD' })).status).toBe(200);
      const [header, payload, signature] = token.split('.') as [string, string, string];
      const tampered = `${header}.${payload}.${signature.slice(0, -2)}${signature.endsWith('AA') ? 'BB' : 'AA'}`;
      const claims = JSON.parse(Buffer.from(payload, 'base64url').toString());
      const retargeted = `${header}.${Buffer.from(JSON.stringify({ ...claims, key: '../../../etc/passwd' })).toString('base64url')}.${signature}`;
      for (const bad of [tampered, retargeted, 'not-a-token']) {
        const response = await fetch(`${iad.http.url}/files/${bad}`);
        expect(response.status).toBe(403);
      }
      // Even a correctly signed link cannot name a path outside the store.
      const { token: evil } = await iad.runtime.fileTokens.sign(
        { reportId, key: '../../etc/passwd', location: 'volume', region: 'iad', machine: 'iad-1', sha256: expectedSha, filename: 'x.pdf' },
        60,
      );
      const traversal = await fetch(`${iad.http.url}/files/${evil}`);
      expect(traversal.status).toBe(400);
      expect(await traversal.json()).toMatchObject({ error: { code: 'INVALID_STORAGE_KEY' } });

      await new Promise((r) => setTimeout(r, 2100));
      const expired = await fetch(url);
      expect(expired.status).toBe(403);
      expect(await expired.json()).toMatchObject({ error: { code: 'FORBIDDEN', message: 'this download link has expired' } });
    });

    it('an object store outage leaves volumes serving; replication catches up with no duplicates', async () => {
      const takeDown = async () => {
        if (s3) await s3.stop();
        else rmSync(join(objectsDir), { recursive: true, force: true }), (await import('node:fs')).writeFileSync(objectsDir, 'down');
      };
      const bringBack = async () => {
        if (s3) await s3.start();
        else rmSync(objectsDir, { force: true }), (await import('node:fs')).mkdirSync(objectsDir);
      };
      await takeDown();
      const ids = [];
      for (let i = 0; i < 3; i++) ids.push((await requestReport(iad.runtime.store, { template: 'table', title: `Outage ${i}`, params: params(5) }, alice)).reportId);
      expect(await iad.workers.render.drain()).toBe(3);
      expect(await iad.workers.replicate!.drain()).toBe(3);
      // iad has seen the store fail: its downloads of the replicated report use its volume copy.
      expect(await createDownloadUrl(iad.runtime, reportId, alice)).toMatchObject({ source: 'LOCAL_VOLUME', region: 'iad' });
      for (const id of ids) {
        const state = await loadReportState(iad.runtime.store.db, id);
        expect(state).toMatchObject({ status: 'STORED', failedStage: 'replicate', attempts: 1 });
        // Still downloadable, from the volume, from any region.
        const url = await createDownloadUrl(lax.runtime, id, alice);
        expect(url.source).toBe('REMOTE_VOLUME');
        const { response } = await download(url.url);
        expect(response.status).toBe(200);
        expect(sha(await response.arrayBuffer())).toBe(state!.sha256);
      }
      await bringBack();
      // The running loop notices on its own once the backoff has passed.
      iad.workers.replicate!.start();
      const deadline = Date.now() + 20_000;
      while (Date.now() < deadline) {
        const states = await Promise.all(ids.map((id) => loadReportState(iad.runtime.store.db, id)));
        if (states.every((s) => s!.status === 'REPLICATED')) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      await iad.workers.replicate!.stop();
      // The store answered again: back to the object-store copy.
      expect(await createDownloadUrl(iad.runtime, reportId, alice)).toMatchObject({ source: 'OBJECT_STORE' });
      for (const id of ids) {
        const counts = await countEventsByType(iad.runtime, `report-${id}`);
        expect(counts.ReportReplicated).toBe(1);
        expect(counts.ReportStoredLocal).toBe(1);
        expect(counts.ReportFailed).toBeGreaterThanOrEqual(1);
        expect((await loadReportState(iad.runtime.store.db, id))!.status).toBe('REPLICATED');
      }
    });

    it('every report and every event is accounted for', async () => {
      const counts = await countEventsByType(iad.runtime);
      const rows = await iad.runtime.store.db.selectFrom('report_status').select(['status', 'last_version']).execute();
      expect(rows).toHaveLength(counts.ReportRequested!);
      expect(rows.every((r) => r.status === 'REPLICATED')).toBe(true);
      expect(rows.reduce((n, r) => n + Number(r.last_version), 0)).toBe(Object.values(counts).reduce((a, b) => a + b, 0));
      expect(counts.ReportReplicated).toBe(counts.ReportRequested);
    });
  },
);
